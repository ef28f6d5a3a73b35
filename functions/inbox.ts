import middy from "@middy/core";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { partialBatch } from "../lib/middleware/batch.ts";
import { flushMetrics, logContext, traceHandler } from "../lib/middleware/observability.ts";
import { type InboxRuntime, startInbox } from "../lib/runtime.ts";

/** S3 → SQS → inbox: each image uploaded under inbox/{tenant}/ becomes a variation job. */
export const chain = (runtime: InboxRuntime) =>
  middy<SQSEvent, SQSBatchResponse>()
    .use(traceHandler(runtime.observability))
    .use(logContext(runtime.observability))
    .use(flushMetrics(runtime.observability))
    .handler(partialBatch(runtime.inbox, runtime.observability));

export const handler = chain(await startInbox());
