import middy from "@middy/core";
import { flushMetrics, logContext, traceHandler } from "../lib/middleware/observability.ts";
import { type BatchPollerRuntime, startBatchPoller } from "../lib/runtime.ts";

/** EventBridge schedule → one poll of the open OpenAI batches; their ended jobs are settled (docs/batch-lane.md). */
export const chain = (runtime: BatchPollerRuntime) =>
  middy<unknown, Awaited<ReturnType<BatchPollerRuntime["poller"]["poll"]>>>()
    .use(traceHandler(runtime.observability))
    .use(logContext(runtime.observability))
    .use(flushMetrics(runtime.observability))
    .handler(async () => {
      const report = await runtime.poller.poll();
      runtime.observability.logger.info("Batches polled", { ...report });
      return report;
    });

export const handler = chain(await startBatchPoller());
