import middy from "@middy/core";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { partialBatch } from "../lib/middleware/batch.ts";
import { flushMetrics, logContext, traceHandler } from "../lib/middleware/observability.ts";
import { type DeadLettersRuntime, startDeadLetters } from "../lib/runtime.ts";

/** The jobs DLQ: each message that exhausted its receives fails its job (`retries_exhausted`). */
export const chain = ({ observability, ...runtime }: DeadLettersRuntime) =>
  middy<SQSEvent, SQSBatchResponse>()
    .use([traceHandler(observability), logContext(observability), flushMetrics(observability)])
    .handler(partialBatch(runtime.deadLetters, observability));

export const handler = chain(await startDeadLetters());
