import type { ServiceConfig } from "../config.ts";
import { BatchLane } from "../jobs/batch-lane.ts";
import { JobRunner } from "../jobs/runner.ts";
import { ProviderRateLimiter } from "../limits/provider-rate.ts";
import { OpenAIBatchApi } from "../providers/openai-batch.ts";
import { createTracing } from "../tracing.ts";
import { batchStore, imageStore, jobQueue, jobStore, limits, usageLedger, webhookQueue } from "./adapters.ts";
import { startFunction } from "./lambda.ts";
import type { Observability } from "./observability.ts";
import { createProviders, createRegistry } from "./providers.ts";
import { type FunctionFactory, type Scope, scope } from "./scope.ts";
import { withPooledKeys, withProviderKey, withUpstreamKeys } from "./secrets.ts";

/** The worker function: SQS jobs → images (functions/worker.ts). */
export interface WorkerRuntime {
  observability: Observability;
  runner: JobRunner;
}

/** The provider pools' rate limiter (PROVIDER_RATE_LIMITS), and a registry per pooled OpenAI key with its own value. */
function providerPools(s: Scope, registryFor: (config: ServiceConfig) => ReturnType<typeof createRegistry>) {
  const pools = s.config.PROVIDER_RATE_LIMITS;
  if (!pools) return {};
  return {
    providerLimits: new ProviderRateLimiter(
      s.clients.dynamodb,
      s.config.JOBS_TABLE,
      Object.fromEntries(
        Object.entries(pools).map(([provider, keys]) => [
          provider,
          keys.map((k) => ({
            name: k.name,
            images_per_window: k.images_per_minute,
            requests_per_window: k.requests_per_minute,
            window_seconds: k.window_seconds,
          })),
        ]),
      ),
      s.observability.logger,
    ),
    // A pooled OpenAI key with a value of its own calls OpenAI with it.
    keyRegistries: Object.fromEntries(
      (pools.openai ?? [])
        .filter((k) => k.api_key !== undefined)
        .map((k) => [k.name, registryFor({ ...s.config, OPENAI_API_KEY: k.api_key })]),
    ),
  };
}

/** OpenAI's Batch API, when the batch lane is on and the key is known (the worker's and the poller's). */
export function openAIBatchApi(config: ServiceConfig): OpenAIBatchApi | undefined {
  if (!config.OPENAI_BATCH_LANE || !config.OPENAI_API_KEY) return undefined;
  return new OpenAIBatchApi({
    apiKey: config.OPENAI_API_KEY,
    baseURL: config.OPENAI_BASE_URL,
    timeoutMs: config.PROVIDER_TIMEOUT_MS,
    maxRetries: config.PROVIDER_MAX_RETRIES,
  });
}

/** The job runner of a scope: the worker's, and the batch poller's (which settles batch-lane jobs with it). */
export function jobRunner(s: Scope, service: "worker" | "batch-poller"): JobRunner {
  const { config } = s;
  const o = s.observability;
  const registryFor = (c: ServiceConfig) =>
    createRegistry(
      c,
      createProviders(c, o.logger, {
        ...(s.options.providerCredentials && { credentials: s.options.providerCredentials }),
        ...(o.tracer && { tracer: o.tracer }),
        service,
      }),
    );
  const store = jobStore(s);
  const registry = registryFor(config);
  const batchApi = openAIBatchApi(config);
  return new JobRunner({
    store,
    queue: jobQueue(s),
    webhooks: webhookQueue(s),
    images: imageStore(s),
    registry,
    ...(batchApi && {
      batchLane: new BatchLane({ api: batchApi, batches: batchStore(s), registry, provider: "openai" }),
    }),
    ...providerPools(s, registryFor),
    logger: o.logger,
    metrics: o.metrics,
    limits: limits(s, store),
    usage: usageLedger(s),
    options: {
      maxAttempts: config.JOB_MAX_ATTEMPTS,
      providerTimeoutMs: config.PROVIDER_TIMEOUT_MS,
      leaseMs: config.WORKER_TIMEOUT_MS,
      cancelCheckMs: config.CANCEL_CHECK_MS,
      sourceFolders: config.TENANT_SOURCE_FOLDERS,
    },
    ...(s.options.now && { now: s.options.now }),
  });
}

export const createWorker: FunctionFactory<WorkerRuntime> = (config, clients, options) => {
  const s = scope("worker", config, clients, options);
  return { observability: s.observability, runner: jobRunner(s, "worker") };
};

/**
 * Cold start: the provider key, the upstreams' and the pooled keys' values from Secrets Manager; traced when
 * TRACING is on.
 */
export const startWorker = () =>
  startFunction("worker", createWorker, {
    secrets: [withProviderKey, withUpstreamKeys, withPooledKeys],
    tracing: createTracing,
  });
