import { createTracing } from "../tracing.ts";
import { WebhookDeliverer } from "../webhooks/delivery.ts";
import { WebhookEventStore } from "../webhooks/event-store.ts";
import { disabledEndpoints, imageStore, jobStore, webhookQueue, webhookSecrets } from "./adapters.ts";
import { startFunction } from "./lambda.ts";
import type { Observability } from "./observability.ts";
import { type FunctionFactory, scope } from "./scope.ts";
import { withCdnKey } from "./secrets.ts";

/** The webhooks function: one delivery attempt per message (functions/webhooks.ts). */
export interface WebhooksRuntime {
  observability: Observability;
  deliverer: WebhookDeliverer;
}

export const createWebhooks: FunctionFactory<WebhooksRuntime> = (config, clients, options) => {
  const s = scope("webhooks", config, clients, options);
  const deliverer = new WebhookDeliverer({
    jobs: jobStore(s),
    events: new WebhookEventStore(s.clients.dynamodb, config.JOBS_TABLE),
    queue: webhookQueue(s),
    secrets: webhookSecrets(s),
    endpoints: disabledEndpoints(s),
    images: imageStore(s),
    logger: s.observability.logger,
    options: {
      schedule: config.WEBHOOK_RETRY_SCHEDULE,
      timeoutMs: config.WEBHOOK_TIMEOUT_MS,
      allowPrivate: s.urlPolicy,
    },
    ...(s.options.now && { now: s.options.now }),
    ...(s.options.random && { random: s.options.random }),
  });
  return { observability: s.observability, deliverer };
};

/** Cold start: payloads carry image URLs, signed with CloudFront's key (from Secrets Manager) when there is a CDN. */
export const startWebhooks = () =>
  startFunction("webhooks", createWebhooks, { secrets: [withCdnKey], tracing: createTracing });
