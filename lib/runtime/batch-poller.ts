import { ConfigError } from "../config.ts";
import { BatchPoller } from "../jobs/batch-lane.ts";
import { createTracing } from "../tracing.ts";
import { batchStore, jobStore } from "./adapters.ts";
import { startFunction } from "./lambda.ts";
import type { Observability } from "./observability.ts";
import { type FunctionFactory, scope } from "./scope.ts";
import { withProviderKey } from "./secrets.ts";
import { jobRunner, openAIBatchApi } from "./worker.ts";

/** The batch poller (functions/batch-poller.ts): settles the jobs of ended OpenAI batches with the worker's runner. */
export interface BatchPollerRuntime {
  observability: Observability;
  poller: BatchPoller;
}

export const createBatchPoller: FunctionFactory<BatchPollerRuntime> = (config, clients, options) => {
  const api = openAIBatchApi(config);
  if (!api)
    throw new ConfigError(
      "Invalid service configuration: the batch poller needs OPENAI_BATCH_LANE=true and the OpenAI key.",
    );
  const s = scope("batch-poller", config, clients, options);
  const poller = new BatchPoller({
    api,
    batches: batchStore(s),
    store: jobStore(s),
    runner: jobRunner(s, "batch-poller"),
    logger: s.observability.logger,
    limit: config.BATCH_POLL_LIMIT,
  });
  return { observability: s.observability, poller };
};

/** Cold start: the provider key from Secrets Manager; traced when TRACING is on. */
export const startBatchPoller = () =>
  startFunction("batch-poller", createBatchPoller, { secrets: [withProviderKey], tracing: createTracing });
