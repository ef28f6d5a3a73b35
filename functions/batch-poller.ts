import middy from "@middy/core";
import { flushMetrics, logContext, traceHandler } from "../lib/middleware/observability.ts";
import { type BatchPollerRuntime, startBatchPoller } from "../lib/runtime.ts";

/** EventBridge schedule → one poll of the open OpenAI batches; their ended jobs are settled (docs/batch-lane.md). */
export const chain = ({ observability, ...runtime }: BatchPollerRuntime) =>
  middy<unknown, Awaited<ReturnType<BatchPollerRuntime["poller"]["poll"]>>>()
    .use([traceHandler(observability), logContext(observability), flushMetrics(observability)])
    .handler(async () => {
      const report = await runtime.poller.poll();
      observability.logger.info("Batches polled", { ...report });
      return report;
    });

export const handler = chain(await startBatchPoller());
