import middy from "@middy/core";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { partialBatch } from "../lib/middleware/batch.ts";
import { flushMetrics, logContext, traceHandler } from "../lib/middleware/observability.ts";
import { startWebhooks, type WebhooksRuntime } from "../lib/runtime.ts";

/** SQS → webhook deliveries, one attempt per message. Failed records are reported individually. */
export const chain = ({ observability, ...runtime }: WebhooksRuntime) =>
  middy<SQSEvent, SQSBatchResponse>()
    .use([traceHandler(observability), logContext(observability), flushMetrics(observability)])
    .handler(partialBatch(runtime.deliverer, observability));

export const handler = chain(await startWebhooks());
