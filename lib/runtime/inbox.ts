import { Inbox } from "../inbox/inbox.ts";
import { createTracing } from "../tracing.ts";
import {
  imageSources,
  imageStore,
  jobQueue,
  jobService,
  jobStore,
  keyStore,
  limits,
  webhookQueue,
} from "./adapters.ts";
import { startFunction } from "./lambda.ts";
import type { Observability } from "./observability.ts";
import { createRegistry, routedProviders } from "./providers.ts";
import { type FunctionFactory, scope } from "./scope.ts";

/** The inbox function: S3 uploads under inbox/{tenant}/ → variation jobs (functions/inbox.ts). */
export interface InboxRuntime {
  observability: Observability;
  inbox: Inbox;
}

export const createInbox: FunctionFactory<InboxRuntime> = (config, clients, options) => {
  const s = scope("inbox", config, clients, options);
  const o = s.observability;
  const store = jobStore(s);
  const queue = jobQueue(s);
  const webhooks = webhookQueue(s);
  const jobs = jobService(s, { store, queue, webhooks, limits: limits(s, store) });
  const inbox = new Inbox({
    bucket: config.IMAGES_BUCKET,
    s3: s.clients.s3,
    keys: keyStore(s),
    store,
    jobs,
    queue,
    webhooks,
    // Routes by provider name, as the API does (OPENAI_ENABLED, set by the stack, says whether OpenAI is
    // configured); the worker calls the provider.
    registry: createRegistry(config, routedProviders(config)),
    sources: imageSources(s, jobs, imageStore(s)),
    urlPolicy: s.urlPolicy,
    maxImageBytes: config.MAX_IMAGE_BYTES,
    logger: o.logger,
    metrics: o.metrics,
    ...(s.options.now && { now: s.options.now }),
  });
  return { observability: o, inbox };
};

export const startInbox = () => startFunction("inbox", createInbox, { tracing: createTracing });
