import middy from "@middy/core";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { loadConfig } from "../lib/config.ts";
import { createRunner } from "../lib/runtime.ts";

const runner = createRunner(loadConfig());

/** SQS → jobs. Failed records are reported individually (ReportBatchItemFailures); the rest are deleted. */
export const handler = middy<SQSEvent, SQSBatchResponse>().handler((event, context) =>
  runner.processBatch(event, () => context.getRemainingTimeInMillis()),
);
