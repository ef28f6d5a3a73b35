import middy from "@middy/core";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { partialBatch } from "../lib/middleware/batch.ts";
import { flushMetrics, logContext, traceHandler } from "../lib/middleware/observability.ts";
import { type InboxRuntime, startInbox } from "../lib/runtime.ts";

/** S3 → SQS → inbox: each image uploaded under inbox/{tenant}/ becomes a variation job. */
export const chain = ({ observability, ...runtime }: InboxRuntime) =>
  middy<SQSEvent, SQSBatchResponse>()
    .use([traceHandler(observability), logContext(observability), flushMetrics(observability)])
    .handler(partialBatch(runtime.inbox, observability));

export const handler = chain(await startInbox());
