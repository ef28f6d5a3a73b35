import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { type ApiDeps, createApiHandler } from "./api/app.ts";
import { Idempotency, type IdempotencyOptions } from "./api/idempotency.ts";
import { routes } from "./api/routes/index.ts";
import { KeyStore } from "./auth/keys.ts";
import type { ServiceConfig } from "./config.ts";
import { JobQueue } from "./jobs/queue.ts";
import { JobRunner } from "./jobs/runner.ts";
import { JobService } from "./jobs/service.ts";
import { JobStore } from "./jobs/store.ts";
import { createLogger, type Logger } from "./logging.ts";
import type { AddressPolicy } from "./net/outbound.ts";
import { OpenAIProvider } from "./providers/openai.ts";
import { PlaceholderProvider } from "./providers/placeholder.ts";
import { ProviderRegistry } from "./providers/registry.ts";
import type { ImageProvider } from "./providers/types.ts";
import { ImageStore } from "./storage/images.ts";
import { WebhookDeliverer } from "./webhooks/delivery.ts";
import { DisabledEndpoints } from "./webhooks/endpoints.ts";
import { WebhookEventStore } from "./webhooks/event-store.ts";
import { WebhookQueue } from "./webhooks/queue.ts";
import { WebhookSecrets } from "./webhooks/secrets.ts";

// Wiring: clients are made once per process, here, and handed to the adapters that use them.

export interface Clients {
  s3: S3Client;
  sqs: SQSClient;
  dynamodb: DynamoDBClient;
}

export function createClients(config: ServiceConfig): Clients {
  const region = config.AWS_REGION;
  const s3Endpoint = config.AWS_ENDPOINT_URL_S3 ?? config.AWS_ENDPOINT_URL;
  const sqsEndpoint = config.AWS_ENDPOINT_URL_SQS ?? config.AWS_ENDPOINT_URL;
  const dynamoEndpoint = config.AWS_ENDPOINT_URL_DYNAMODB ?? config.AWS_ENDPOINT_URL;
  return {
    // Path-style keeps emulator endpoints (http://127.0.0.1:port/bucket/key) working.
    s3: new S3Client({ region, ...(s3Endpoint && { endpoint: s3Endpoint, forcePathStyle: true }) }),
    sqs: new SQSClient({ region, ...(sqsEndpoint && { endpoint: sqsEndpoint }) }),
    dynamodb: new DynamoDBClient({ region, ...(dynamoEndpoint && { endpoint: dynamoEndpoint }) }),
  };
}

/** What tests may swap in; production takes everything from the configuration. */
export interface RuntimeOverrides {
  /** In place of ALLOW_PRIVATE_URLS: tests let a loopback webhook receiver count as public. */
  urlPolicy?: AddressPolicy;
  idempotency?: Partial<IdempotencyOptions>;
}

export function createServiceLogger(config: ServiceConfig, service: string): Logger {
  return createLogger({
    level: config.LOG_LEVEL,
    format: config.LOG_FORMAT,
    service,
    secrets: [config.OPENAI_API_KEY ?? ""],
  });
}

export function createRegistry(config: ServiceConfig): ProviderRegistry {
  const providers: ImageProvider[] = [new PlaceholderProvider()];
  if (config.OPENAI_API_KEY) {
    providers.push(
      new OpenAIProvider({
        apiKey: config.OPENAI_API_KEY,
        baseURL: config.OPENAI_BASE_URL,
        timeoutMs: config.PROVIDER_TIMEOUT_MS,
        maxRetries: config.PROVIDER_MAX_RETRIES,
      }),
    );
  }
  const realProviders = providers.length > 1;
  return new ProviderRegistry({
    providers,
    standIn: !realProviders && config.PLACEHOLDER_FALLBACK ? providers[0] : undefined,
    defaultModel: config.DEFAULT_MODEL,
  });
}

export function createApi(
  config: ServiceConfig,
  clients: Clients = createClients(config),
  overrides: RuntimeOverrides = {},
) {
  const logger = createServiceLogger(config, "api");
  const registry = createRegistry(config);
  const store = new JobStore(clients.dynamodb, config.JOBS_TABLE);
  const images = new ImageStore(clients.s3, config.IMAGES_BUCKET, config.URL_TTL_SECONDS);
  const jobs = new JobService(
    store,
    new JobQueue(clients.sqs, config.JOBS_QUEUE_URL),
    logger,
    new WebhookQueue(clients.sqs, config.WEBHOOKS_QUEUE_URL),
  );
  const deps: ApiDeps = {
    keys: new KeyStore(clients.dynamodb, config.JOBS_TABLE),
    routes: routes({
      jobs,
      images,
      registry,
      syncWaitMs: config.SYNC_WAIT_MS,
      webhookSecrets: webhookSecrets(config, clients),
      disabledEndpoints: new DisabledEndpoints(clients.dynamodb, config.JOBS_TABLE),
      urlPolicy: overrides.urlPolicy ?? config.ALLOW_PRIVATE_URLS,
    }),
    logger,
    maxRequestBytes: config.MAX_REQUEST_BYTES,
    idempotency: new Idempotency(
      { db: clients.dynamodb, s3: clients.s3 },
      { table: config.JOBS_TABLE, bucket: config.IMAGES_BUCKET },
      logger,
      overrides.idempotency,
    ),
  };
  return createApiHandler(deps);
}

export function createRunner(config: ServiceConfig, clients: Clients = createClients(config)): JobRunner {
  return new JobRunner({
    store: new JobStore(clients.dynamodb, config.JOBS_TABLE),
    queue: new JobQueue(clients.sqs, config.JOBS_QUEUE_URL),
    webhooks: new WebhookQueue(clients.sqs, config.WEBHOOKS_QUEUE_URL),
    images: new ImageStore(clients.s3, config.IMAGES_BUCKET, config.URL_TTL_SECONDS),
    registry: createRegistry(config),
    logger: createServiceLogger(config, "worker"),
    options: {
      maxAttempts: config.JOB_MAX_ATTEMPTS,
      providerTimeoutMs: config.PROVIDER_TIMEOUT_MS,
      leaseMs: config.WORKER_TIMEOUT_MS,
      cancelCheckMs: config.CANCEL_CHECK_MS,
    },
  });
}

function webhookSecrets(config: ServiceConfig, clients: Clients): WebhookSecrets {
  return new WebhookSecrets(
    clients.dynamodb,
    config.JOBS_TABLE,
    config.WEBHOOK_SECRET_OVERLAP_SECONDS * 1000,
  );
}

export function createWebhookDeliverer(
  config: ServiceConfig,
  clients: Clients = createClients(config),
  overrides: RuntimeOverrides = {},
): WebhookDeliverer {
  return new WebhookDeliverer({
    jobs: new JobStore(clients.dynamodb, config.JOBS_TABLE),
    events: new WebhookEventStore(clients.dynamodb, config.JOBS_TABLE),
    queue: new WebhookQueue(clients.sqs, config.WEBHOOKS_QUEUE_URL),
    secrets: webhookSecrets(config, clients),
    endpoints: new DisabledEndpoints(clients.dynamodb, config.JOBS_TABLE),
    images: new ImageStore(clients.s3, config.IMAGES_BUCKET, config.URL_TTL_SECONDS),
    logger: createServiceLogger(config, "webhooks"),
    options: {
      schedule: config.WEBHOOK_RETRY_SCHEDULE,
      timeoutMs: config.WEBHOOK_TIMEOUT_MS,
      allowPrivate: overrides.urlPolicy ?? config.ALLOW_PRIVATE_URLS,
    },
  });
}
