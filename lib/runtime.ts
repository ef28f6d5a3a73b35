import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { type ApiDeps, createApiHandler } from "./api/app.ts";
import { routes } from "./api/routes/index.ts";
import { AdminKey } from "./auth/admin.ts";
import { KeyStore } from "./auth/keys.ts";
import type { ServiceConfig } from "./config.ts";
import { JobQueue } from "./jobs/queue.ts";
import { JobRunner } from "./jobs/runner.ts";
import { JobService } from "./jobs/service.ts";
import { JobStore } from "./jobs/store.ts";
import { Limits } from "./limits/limits.ts";
import { createLogger, type Logger } from "./logging.ts";
import { OpenAIProvider } from "./providers/openai.ts";
import { PlaceholderProvider } from "./providers/placeholder.ts";
import { ProviderRegistry } from "./providers/registry.ts";
import type { ImageProvider } from "./providers/types.ts";
import { ImageStore } from "./storage/images.ts";
import { UsageLedger } from "./usage/ledger.ts";

// Wiring: clients are made once per process, here, and handed to the adapters that use them.

export interface Clients {
  s3: S3Client;
  sqs: SQSClient;
  dynamodb: DynamoDBClient;
}

/** In Lambda the SDK finds credentials itself (the role); tests hand in the emulators' dummy ones. */
export function createClients(
  config: ServiceConfig,
  options: { credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } } = {},
): Clients {
  const region = config.AWS_REGION;
  const base = { region, ...(options.credentials && { credentials: options.credentials }) };
  const s3Endpoint = config.AWS_ENDPOINT_URL_S3 ?? config.AWS_ENDPOINT_URL;
  const sqsEndpoint = config.AWS_ENDPOINT_URL_SQS ?? config.AWS_ENDPOINT_URL;
  const dynamoEndpoint = config.AWS_ENDPOINT_URL_DYNAMODB ?? config.AWS_ENDPOINT_URL;
  return {
    // Path-style keeps emulator endpoints (http://127.0.0.1:port/bucket/key) working.
    s3: new S3Client({ ...base, ...(s3Endpoint && { endpoint: s3Endpoint, forcePathStyle: true }) }),
    sqs: new SQSClient({ ...base, ...(sqsEndpoint && { endpoint: sqsEndpoint }) }),
    dynamodb: new DynamoDBClient({ ...base, ...(dynamoEndpoint && { endpoint: dynamoEndpoint }) }),
  };
}

/** Where log lines go; stdout unless a test captures them. */
export interface RuntimeOptions {
  logWrite?: (line: string) => void;
}

export function createServiceLogger(
  config: ServiceConfig,
  service: string,
  options: RuntimeOptions = {},
): Logger {
  return createLogger({
    level: config.LOG_LEVEL,
    format: config.LOG_FORMAT,
    service,
    // Masked wherever they appear, whatever their shape.
    secrets: [config.OPENAI_API_KEY ?? "", config.ADMIN_API_KEY ?? ""],
    ...(options.logWrite && { write: options.logWrite }),
  });
}

export function createRegistry(config: ServiceConfig, logger?: Logger): ProviderRegistry {
  const providers: ImageProvider[] = [new PlaceholderProvider()];
  if (config.OPENAI_API_KEY) {
    providers.push(
      new OpenAIProvider({
        apiKey: config.OPENAI_API_KEY,
        baseURL: config.OPENAI_BASE_URL,
        timeoutMs: config.PROVIDER_TIMEOUT_MS,
        maxRetries: config.PROVIDER_MAX_RETRIES,
        logger: logger?.child({ component: "openai-sdk" }),
        logLevel: config.LOG_LEVEL === "silent" ? "off" : config.LOG_LEVEL,
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

function createLimits(config: ServiceConfig, clients: Clients, store: JobStore, logger: Logger): Limits {
  return new Limits(clients.dynamodb, config.JOBS_TABLE, (tenant, id) => store.get(tenant, id, true), logger);
}

export function createApi(
  config: ServiceConfig,
  clients: Clients = createClients(config),
  options: RuntimeOptions = {},
) {
  const logger = createServiceLogger(config, "api", options);
  const registry = createRegistry(config, logger);
  const store = new JobStore(clients.dynamodb, config.JOBS_TABLE);
  const images = new ImageStore(clients.s3, config.IMAGES_BUCKET, config.URL_TTL_SECONDS);
  const limits = createLimits(config, clients, store, logger);
  const jobs = new JobService(store, new JobQueue(clients.sqs, config.JOBS_QUEUE_URL), logger, { limits });
  const keys = new KeyStore(clients.dynamodb, config.JOBS_TABLE);
  const usage = new UsageLedger(clients.dynamodb, config.JOBS_TABLE);
  const deps: ApiDeps = {
    keys,
    admin: new AdminKey(config.ADMIN_API_KEY),
    limits,
    routes: routes({ jobs, images, registry, syncWaitMs: config.SYNC_WAIT_MS, keys, usage }),
    logger,
    maxRequestBytes: config.MAX_REQUEST_BYTES,
  };
  return createApiHandler(deps);
}

export function createRunner(
  config: ServiceConfig,
  clients: Clients = createClients(config),
  options: RuntimeOptions = {},
): JobRunner {
  const logger = createServiceLogger(config, "worker", options);
  const store = new JobStore(clients.dynamodb, config.JOBS_TABLE);
  return new JobRunner({
    store,
    queue: new JobQueue(clients.sqs, config.JOBS_QUEUE_URL),
    images: new ImageStore(clients.s3, config.IMAGES_BUCKET, config.URL_TTL_SECONDS),
    registry: createRegistry(config, logger),
    logger,
    limits: createLimits(config, clients, store, logger),
    usage: new UsageLedger(clients.dynamodb, config.JOBS_TABLE),
    options: {
      maxAttempts: config.JOB_MAX_ATTEMPTS,
      providerTimeoutMs: config.PROVIDER_TIMEOUT_MS,
      leaseMs: config.WORKER_TIMEOUT_MS,
    },
  });
}
