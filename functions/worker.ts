import middy from "@middy/core";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { partialBatch } from "../lib/middleware/batch.ts";
import { flushMetrics, logContext, traceHandler } from "../lib/middleware/observability.ts";
import { startWorker, type WorkerRuntime } from "../lib/runtime.ts";

/** SQS → jobs. Failed records are reported individually (ReportBatchItemFailures); the rest are deleted. */
export const chain = ({ observability, ...runtime }: WorkerRuntime) =>
  middy<SQSEvent, SQSBatchResponse>()
    .use([traceHandler(observability), logContext(observability), flushMetrics(observability)])
    .handler(partialBatch(runtime.runner, observability));

export const handler = chain(await startWorker());
