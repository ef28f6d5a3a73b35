import { KeyStore } from "../auth/keys.ts";
import { ConfigError } from "../config.ts";
import { BatchStore } from "../jobs/batch-store.ts";
import { JobQueue } from "../jobs/queue.ts";
import { JobService } from "../jobs/service.ts";
import { ImageSources } from "../jobs/sources.ts";
import { JobStore } from "../jobs/store.ts";
import { Limits } from "../limits/limits.ts";
import { ImageStore } from "../storage/images.ts";
import { MonthlyBudgets } from "../usage/budget.ts";
import { UsageLedger } from "../usage/ledger.ts";
import { DisabledEndpoints } from "../webhooks/endpoints.ts";
import { WebhookQueue } from "../webhooks/queue.ts";
import { WebhookSecrets } from "../webhooks/secrets.ts";
import type { Scope } from "./scope.ts";

// Each adapter is made here and nowhere else, from a function's scope; each function's factory makes the ones it
// uses, once. Separate functions rather than one object, so a function's bundle holds only the adapters it uses.

export const jobStore = (s: Scope) => new JobStore(s.clients.dynamodb, s.config.JOBS_TABLE);

/** The jobs queue, and the batch lane's queue for priority "batch" when BATCH_QUEUE_URL is set. */
export const jobQueue = (s: Scope) =>
  new JobQueue(s.clients.sqs, s.config.JOBS_QUEUE_URL, s.config.BATCH_QUEUE_URL);

export const batchStore = (s: Scope) => new BatchStore(s.clients.dynamodb, s.config.JOBS_TABLE);

export const webhookQueue = (s: Scope) => new WebhookQueue(s.clients.sqs, s.config.WEBHOOKS_QUEUE_URL);

/** The images bucket; generated images' URLs are CloudFront signed URLs when the configuration has a CDN. */
export function imageStore(s: Scope): ImageStore {
  const {
    IMAGE_CDN_DOMAIN: domain,
    IMAGE_CDN_KEY_PAIR_ID: keyPairId,
    IMAGE_CDN_PRIVATE_KEY: privateKey,
  } = s.config;
  if (domain && !privateKey)
    throw new ConfigError(
      "Invalid service configuration: the CloudFront private key was not read (withCdnKey) before the functions were made.",
    );
  return new ImageStore(s.clients.s3, s.config.IMAGES_BUCKET, s.config.URL_TTL_SECONDS, {
    ...(domain && keyPairId && privateKey && { cdn: { domain, keyPairId, privateKey } }),
  });
}

export const keyStore = (s: Scope) => new KeyStore(s.clients.dynamodb, s.config.JOBS_TABLE);

export const usageLedger = (s: Scope) => new UsageLedger(s.clients.dynamodb, s.config.JOBS_TABLE);

export const disabledEndpoints = (s: Scope) => new DisabledEndpoints(s.clients.dynamodb, s.config.JOBS_TABLE);

export const webhookSecrets = (s: Scope) =>
  new WebhookSecrets(s.clients.dynamodb, s.config.JOBS_TABLE, s.config.WEBHOOK_SECRET_OVERLAP_SECONDS * 1000);

export const limits = (s: Scope, store: JobStore) =>
  new Limits(
    s.clients.dynamodb,
    s.config.JOBS_TABLE,
    (tenant, id) => store.get(tenant, id, true),
    s.observability.logger,
  );

/** Where jobs are made (the API and the inbox): recorded, limited, budgeted, queued, announced. */
export function jobService(
  s: Scope,
  parts: { store: JobStore; queue: JobQueue; webhooks: WebhookQueue; limits: Limits; usage?: UsageLedger },
): JobService {
  const budgets = s.config.TENANT_MONTHLY_BUDGETS_USD;
  return new JobService(parts.store, parts.queue, s.observability.logger, parts.webhooks, {
    limits: parts.limits,
    metrics: s.observability.metrics,
    ...(budgets && parts.usage && { budget: new MonthlyBudgets(parts.usage, budgets) }),
    ...(s.options.now && { now: s.options.now }),
  });
}

/** Input images: uploads, earlier jobs' outputs, and URLs fetched under the function's URL policy. */
export const imageSources = (s: Scope, jobs: JobService, images: ImageStore) =>
  new ImageSources((tenant, id) => jobs.get(tenant, id), images, {
    maxBytes: s.config.MAX_IMAGE_BYTES,
    fetchTimeoutMs: s.config.IMAGE_FETCH_TIMEOUT_MS,
    allowPrivate: s.urlPolicy,
  });
