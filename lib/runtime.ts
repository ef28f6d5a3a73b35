import { fileURLToPath } from "node:url";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import type { Tracer } from "@aws-lambda-powertools/tracer";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SQSClient } from "@aws-sdk/client-sqs";
import middy from "@middy/core";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import {
  type ApiDeps,
  createApiHandler,
  createStreamingApiHandler,
  type ResponseStreamHandler,
  streamifyResponse,
} from "./api/app.ts";
import { Idempotency, type IdempotencyOptions } from "./api/idempotency.ts";
import { routes } from "./api/routes/index.ts";
import type { PlaygroundOptions } from "./api/routes/playground.ts";
import { AdminKey } from "./auth/admin.ts";
import { KeyStore } from "./auth/keys.ts";
import { type AwsCallCounter, recordAwsCalls, recordOwnAwsCalls, type ServiceName } from "./aws-calls.ts";
import { ConfigError, configSecrets, type ServiceConfig } from "./config.ts";
import { Inbox } from "./inbox/inbox.ts";
import { DeadLetters } from "./jobs/dead-letters.ts";
import { JobQueue } from "./jobs/queue.ts";
import { JobRunner } from "./jobs/runner.ts";
import { JobService } from "./jobs/service.ts";
import { ImageSources } from "./jobs/sources.ts";
import { JobStore } from "./jobs/store.ts";
import { Limits } from "./limits/limits.ts";
import { ProviderRateLimiter } from "./limits/provider-rate.ts";
import { createJsonLogger, createLogger, type Logger } from "./logging.ts";
import { createEmfMetrics, type Metrics, noMetrics } from "./metrics.ts";
import type { AddressPolicy } from "./net/outbound.ts";
import { createBedrockProvider } from "./providers/bedrock.ts";
import { catalog } from "./providers/catalog.ts";
import { OpenAIProvider } from "./providers/openai.ts";
import { PlaceholderProvider } from "./providers/placeholder.ts";
import { ProviderRegistry, RegistryConfigError } from "./providers/registry.ts";
import type { ImageProvider } from "./providers/types.ts";
import { upstreamModels } from "./providers/upstreams.ts";
import { readAdminKey, readCdnPrivateKey, readProviderKey, withSecretsClient } from "./secrets.ts";
import { ImageStore } from "./storage/images.ts";
import type { Tracing } from "./tracing.ts";
import { MonthlyBudgets } from "./usage/budget.ts";
import { UsageLedger } from "./usage/ledger.ts";
import { WebhookDeliverer } from "./webhooks/delivery.ts";
import { DisabledEndpoints } from "./webhooks/endpoints.ts";
import { WebhookEventStore } from "./webhooks/event-store.ts";
import { WebhookQueue } from "./webhooks/queue.ts";
import { WebhookSecrets } from "./webhooks/secrets.ts";

// Wiring: clients are made once per process, here, and handed to the adapters that use them.
// Bundles: package.json declares "sideEffects": false, so a function's bundle holds only what its handler reaches.
// The API never reaches OpenAIProvider (it knows providers by name), so the openai SDK stays out of its bundle.

export interface Clients {
  s3: S3Client;
  sqs: SQSClient;
  dynamodb: DynamoDBClient;
}

/** In Lambda the SDK finds credentials itself (the role); tests hand in the emulators' dummy ones. */
export function createClients(
  config: ServiceConfig,
  options: {
    credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
    tracer?: Tracer;
    /** Counts every call (the bench's calls per job). */
    counter?: AwsCallCounter;
  } = {},
): Clients {
  const tracer = options.tracer;
  const region = config.AWS_REGION;
  const base = { region, ...(options.credentials && { credentials: options.credentials }) };
  const s3Endpoint = config.AWS_ENDPOINT_URL_S3 ?? config.AWS_ENDPOINT_URL;
  const sqsEndpoint = config.AWS_ENDPOINT_URL_SQS ?? config.AWS_ENDPOINT_URL;
  const dynamoEndpoint = config.AWS_ENDPOINT_URL_DYNAMODB ?? config.AWS_ENDPOINT_URL;
  const clients = {
    // Path-style keeps emulator endpoints (http://127.0.0.1:port/bucket/key) working.
    s3: new S3Client({ ...base, ...(s3Endpoint && { endpoint: s3Endpoint, forcePathStyle: true }) }),
    sqs: new SQSClient({ ...base, ...(sqsEndpoint && { endpoint: sqsEndpoint }) }),
    dynamodb: new DynamoDBClient({ ...base, ...(dynamoEndpoint && { endpoint: dynamoEndpoint }) }),
  };
  // Each AWS call becomes an X-Ray subsegment of the invocation's trace.
  if (tracer) for (const client of Object.values(clients)) tracer.captureAWSv3Client(client);
  if (options.counter) for (const client of Object.values(clients)) options.counter.attach(client);
  return clients;
}

/** The clients as one function's code sees them: its calls are recorded under its name when AWS_CALL_LOG_DIR is set. */
function clientsOf(service: ServiceName, clients: Clients, config: ServiceConfig): Clients {
  return {
    s3: recordAwsCalls(clients.s3, service, config),
    sqs: recordAwsCalls(clients.sqs, service, config),
    dynamodb: recordAwsCalls(clients.dynamodb, service, config),
  };
}

/**
 * Reads the provider key from Secrets Manager when the configuration names a secret (in AWS), once per cold
 * start, and returns the configuration with it. The key never sits in the function's environment.
 */
export async function withProviderKey(
  config: ServiceConfig,
  service: ServiceName,
  client?: SecretsManagerClient,
): Promise<ServiceConfig> {
  const arn = config.OPENAI_API_KEY_SECRET_ARN;
  if (!arn) return config;
  const key = await withSecretsClient(config, client, (secrets) =>
    readProviderKey(recordAwsCalls(secrets, service, config), arn),
  );
  if (key) return { ...config, OPENAI_API_KEY: key };
  createServiceLogger(config, "config").warn(
    "The provider key secret holds no key yet; OpenAI models are unavailable until it is set",
    { secretArn: arn },
  );
  return config;
}

/**
 * Reads the keys of upstreams kept in Secrets Manager (`api_key_secret_arn`), once per cold start: for the
 * worker, the only function that calls them (the API routes by configuration alone). A secret that still holds
 * the stack's marker leaves its upstream keyless, and its calls fail as unauthenticated, with a warning here.
 */
export async function withUpstreamKeys(
  config: ServiceConfig,
  service: ServiceName,
  client?: SecretsManagerClient,
): Promise<ServiceConfig> {
  const upstreams = config.OPENAI_COMPATIBLE_UPSTREAMS;
  if (!upstreams?.some((u) => u.api_key_secret_arn !== undefined)) return config;
  const resolved = await withSecretsClient(config, client, (secrets) =>
    Promise.all(
      upstreams.map(async (u) => {
        if (u.api_key_secret_arn === undefined) return u;
        const key = await readProviderKey(recordAwsCalls(secrets, service, config), u.api_key_secret_arn);
        if (!key) {
          createServiceLogger(config, "config").warn("An upstream's key secret holds no key yet", {
            upstream: u.name,
            secretArn: u.api_key_secret_arn,
          });
        }
        return { ...u, api_key: key };
      }),
    ),
  );
  return { ...config, OPENAI_COMPATIBLE_UPSTREAMS: resolved };
}

/**
 * Reads the values of pooled provider keys kept in Secrets Manager (`api_key_secret_arn` in PROVIDER_RATE_LIMITS),
 * once per cold start: for the worker, the only function that calls providers. A secret that still holds the
 * stack's marker fails cold start: a pooled key without a value would call the provider with another key's quota.
 */
export async function withPooledKeys(
  config: ServiceConfig,
  service: ServiceName,
  client?: SecretsManagerClient,
): Promise<ServiceConfig> {
  const pools = config.PROVIDER_RATE_LIMITS;
  if (!pools || !Object.values(pools).some((keys) => keys.some((k) => k.api_key_secret_arn !== undefined)))
    return config;
  const resolved = await withSecretsClient(config, client, async (secrets) => {
    const recorded = recordAwsCalls(secrets, service, config);
    return Object.fromEntries(
      await Promise.all(
        Object.entries(pools).map(async ([provider, keys]) => [
          provider,
          await Promise.all(
            keys.map(async (k) => {
              if (k.api_key_secret_arn === undefined) return k;
              const value = await readProviderKey(recorded, k.api_key_secret_arn);
              if (!value)
                throw new ConfigError(
                  `Invalid service configuration: the secret of PROVIDER_RATE_LIMITS key '${k.name}' of '${provider}' holds no key yet (${k.api_key_secret_arn}).`,
                );
              return { ...k, api_key: value };
            }),
          ),
        ]),
      ),
    ) as NonNullable<ServiceConfig["PROVIDER_RATE_LIMITS"]>;
  });
  return { ...config, PROVIDER_RATE_LIMITS: resolved };
}

/**
 * Reads the CloudFront private key that signs image URLs from Secrets Manager when the configuration names its
 * secret (in AWS), once per cold start: for the functions that hand out image URLs (the API, webhooks).
 */
export async function withCdnKey(
  config: ServiceConfig,
  service: ServiceName,
  client?: SecretsManagerClient,
): Promise<ServiceConfig> {
  const arn = config.IMAGE_CDN_PRIVATE_KEY_SECRET_ARN;
  if (!arn) return config;
  return {
    ...config,
    IMAGE_CDN_PRIVATE_KEY: await withSecretsClient(config, client, (secrets) =>
      readCdnPrivateKey(recordAwsCalls(secrets, service, config), arn),
    ),
  };
}

/**
 * Reads the admin key from Secrets Manager when the configuration names its secret (in AWS), once per cold
 * start, so the key is never in the function's environment.
 */
export async function withAdminKey(
  config: ServiceConfig,
  service: ServiceName,
  client?: SecretsManagerClient,
): Promise<ServiceConfig> {
  const arn = config.ADMIN_API_KEY_SECRET_ARN;
  if (!arn) return config;
  return {
    ...config,
    ADMIN_API_KEY: await withSecretsClient(config, client, (secrets) =>
      readAdminKey(recordAwsCalls(secrets, service, config), arn),
    ),
  };
}

/** What tests may swap in; production takes everything from the configuration. */
export interface RuntimeOverrides {
  /** In place of ALLOW_PRIVATE_URLS (image and webhook URLs): tests let a loopback server count as public. */
  urlPolicy?: AddressPolicy;
  idempotency?: Partial<IdempotencyOptions>;
  /** Where log lines go; stdout unless a test captures them. */
  logWrite?: (line: string) => void;
  /** Credentials for the worker's own provider clients (Bedrock): the emulators' dummy ones in tests. */
  providerCredentials?: ProviderClientOptions["credentials"];
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
    secrets: configSecrets(config),
    ...(options.logWrite && { write: options.logWrite }),
  });
}

type LambdaHandler<E, R> = (event: E, context: Context) => Promise<R>;

/** Logs, metrics and traces for one function. Powertools in Lambda; readable lines and nothing else in the sandbox. */
export interface Observability {
  logger: Logger;
  metrics: Metrics;
  tracer: Tracer | undefined;
  /** Adds the Lambda context to log lines, flushes metrics after each invocation and traces the handler. */
  instrument<E, R>(handler: LambdaHandler<E, R>): LambdaHandler<E, R>;
}

/**
 * `write` receives log and EMF lines instead of stdout (tests). `tracing` (from lib/tracing.ts) is passed in by
 * the functions that trace, so the others' bundles leave the X-Ray SDK out.
 */
export function createObservability(
  config: ServiceConfig,
  service: string,
  options: { write?: (line: string) => void; tracing?: Tracing | undefined } = {},
): Observability {
  const secrets = configSecrets(config);
  const loggerOptions = {
    level: config.LOG_LEVEL,
    service,
    secrets,
    ...(options.write && { write: options.write }),
  };
  const json =
    config.LOG_FORMAT === "json" ? createJsonLogger({ ...loggerOptions, format: "json" }) : undefined;
  const logger = json?.logger ?? createLogger({ ...loggerOptions, format: "pretty" });
  const emf = config.METRICS_NAMESPACE
    ? createEmfMetrics({
        namespace: config.METRICS_NAMESPACE,
        service,
        ...(options.write && { write: options.write }),
      })
    : undefined;
  const tracing = options.tracing;
  const tracer = tracing?.tracer;
  return {
    logger,
    metrics: emf?.metrics ?? noMetrics,
    tracer,
    instrument<E, R>(handler: LambdaHandler<E, R>): LambdaHandler<E, R> {
      if (!json && !emf && !tracer) return handler;
      const wrapped = middy<E, R>().handler(handler);
      // Responses carry presigned URLs and base64 images: never copy them into traces.
      if (tracing) wrapped.use(tracing.middleware);
      if (json) wrapped.use(injectLambdaContext(json.powertools));
      if (emf) {
        // Powertools' own middleware warns on every invocation that recorded nothing; flush only what exists.
        const flush = () => {
          if (emf.powertools.hasStoredMetrics()) emf.powertools.publishStoredMetrics();
        };
        wrapped.use({
          before: (request) => emf.powertools.captureColdStartMetric(request.context.functionName),
          after: flush,
          onError: flush,
        });
      }
      return wrapped as unknown as LambdaHandler<E, R>;
    },
  };
}

/** The providers a configuration enables, by name: the placeholder first, as the registry expects. */
export function enabledProviders(config: ServiceConfig): string[] {
  return [
    "placeholder",
    ...(config.OPENAI_API_KEY || config.OPENAI_ENABLED ? ["openai"] : []),
    ...(config.BEDROCK_REGION ? ["bedrock"] : []),
    ...(config.OPENAI_COMPATIBLE_UPSTREAMS ?? []).map((u) => u.name),
  ];
}

/** What tests hand the worker's own AWS clients (Bedrock); in Lambda the role's credentials apply. */
export interface ProviderClientOptions {
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  tracer?: Tracer;
  /** The function whose calls these are, for the AWS call log (lib/aws-calls.ts). */
  service?: ServiceName;
}

/** The provider implementations, for functions that call providers (the worker). Same names, same order. */
export function createProviders(
  config: ServiceConfig,
  logger?: Logger,
  options: ProviderClientOptions = {},
): ImageProvider[] {
  const providers: ImageProvider[] = [
    new PlaceholderProvider({ partialIntervalMs: config.PLACEHOLDER_PARTIAL_INTERVAL_MS }),
  ];
  const openAI = (name: string, apiKey: string, baseURL: string | undefined) =>
    new OpenAIProvider({
      name,
      apiKey,
      baseURL,
      timeoutMs: config.PROVIDER_TIMEOUT_MS,
      maxRetries: config.PROVIDER_MAX_RETRIES,
      logger: logger?.child({ component: `${name}-sdk` }),
      logLevel: config.LOG_LEVEL === "silent" ? "off" : config.LOG_LEVEL,
    });
  if (config.OPENAI_API_KEY) providers.push(openAI("openai", config.OPENAI_API_KEY, config.OPENAI_BASE_URL));
  if (config.BEDROCK_REGION) {
    // The client is made in bedrock.ts: an import of it here would follow runtime.ts into the API's bundle.
    const bedrock = createBedrockProvider({
      region: config.BEDROCK_REGION,
      endpoint: config.AWS_ENDPOINT_URL_BEDROCK_RUNTIME,
      credentials: options.credentials,
      timeoutMs: config.PROVIDER_TIMEOUT_MS,
      maxRetries: config.PROVIDER_MAX_RETRIES,
    });
    options.tracer?.captureAWSv3Client(bedrock.client);
    if (options.service) recordOwnAwsCalls(bedrock.client, options.service, config);
    providers.push(bedrock.provider);
  }
  for (const u of config.OPENAI_COMPATIBLE_UPSTREAMS ?? []) {
    // The SDK insists on a key; servers that take none ignore the header.
    providers.push(openAI(u.name, u.api_key ?? "none", u.base_url));
  }
  return providers;
}

/** Providers by name only, for functions that route jobs but never call a provider (the API). */
export function routedProviders(config: ServiceConfig): ImageProvider[] {
  return enabledProviders(config).map((name) => {
    const refuse = () => Promise.reject(new Error(`The ${name} provider is called by the worker, not here.`));
    return { name, generate: refuse, edit: refuse };
  });
}

/**
 * The models this configuration serves and how requests reach them: the catalog (Bedrock's limited to
 * BEDROCK_MODELS), the configured upstreams' models, tenants' defaults and fallbacks. A name that matches no
 * model fails here, at cold start.
 */
export function createRegistry(config: ServiceConfig, providers: readonly ImageProvider[]): ProviderRegistry {
  const realProviders = providers.length > 1;
  const bedrockModels = config.BEDROCK_MODELS;
  try {
    return new ProviderRegistry({
      providers,
      models: bedrockModels
        ? catalog.filter((m) => m.provider !== "bedrock" || bedrockModels.includes(m.id))
        : catalog,
      extraModels: upstreamModels(config.OPENAI_COMPATIBLE_UPSTREAMS ?? []),
      // Offline, the placeholder answers for OpenAI's models; Bedrock's and upstreams' appear once configured.
      standIn: !realProviders && config.PLACEHOLDER_FALLBACK ? providers[0] : undefined,
      standInFor: ["openai"],
      defaultModel: config.DEFAULT_MODEL,
      tenantDefaults: config.TENANT_DEFAULT_MODELS,
      fallbacks: config.MODEL_FALLBACKS,
    });
  } catch (err) {
    if (err instanceof RegistryConfigError)
      throw new ConfigError(`Invalid service configuration: ${err.message}`, { cause: err });
    throw err;
  }
}

/** The images bucket; generated images' URLs are CloudFront signed URLs when the configuration has a CDN. */
function imageStore(config: ServiceConfig, s3: S3Client): ImageStore {
  const {
    IMAGE_CDN_DOMAIN: domain,
    IMAGE_CDN_KEY_PAIR_ID: keyPairId,
    IMAGE_CDN_PRIVATE_KEY: privateKey,
  } = config;
  if (domain && !privateKey)
    throw new ConfigError(
      "Invalid service configuration: the CloudFront private key was not read (withCdnKey) before the functions were made.",
    );
  return new ImageStore(s3, config.IMAGES_BUCKET, config.URL_TTL_SECONDS, {
    ...(domain && keyPairId && privateKey && { cdn: { domain, keyPairId, privateKey } }),
  });
}

function createLimits(config: ServiceConfig, clients: Clients, store: JobStore, logger: Logger): Limits {
  return new Limits(clients.dynamodb, config.JOBS_TABLE, (tenant, id) => store.get(tenant, id, true), logger);
}

/** The playground's files, and the origin its images load from: the S3 endpoint (emulator) or S3 itself. */
function playgroundOptions(config: ServiceConfig): PlaygroundOptions {
  const s3Endpoint = config.AWS_ENDPOINT_URL_S3 ?? config.AWS_ENDPOINT_URL;
  return {
    dir: config.PLAYGROUND_DIR ?? fileURLToPath(new URL("../web/dist", import.meta.url)),
    imageOrigins: [s3Endpoint ? new URL(s3Endpoint).origin : "https://*.amazonaws.com"],
  };
}

/** What both API front doors are made of, with their logs, metrics and traces. */
function apiDeps(
  config: ServiceConfig,
  clients: Clients | undefined,
  overrides: RuntimeOverrides,
): { o: Observability; deps: ApiDeps } {
  const o = createObservability(config, "api", { ...(overrides.logWrite && { write: overrides.logWrite }) });
  const c = clientsOf(
    "api",
    clients ?? createClients(config, { ...(o.tracer && { tracer: o.tracer }) }),
    config,
  );
  const registry = createRegistry(config, routedProviders(config));
  const store = new JobStore(c.dynamodb, config.JOBS_TABLE);
  const images = imageStore(config, c.s3);
  const limits = createLimits(config, c, store, o.logger);
  const usage = new UsageLedger(c.dynamodb, config.JOBS_TABLE);
  const budgets = config.TENANT_MONTHLY_BUDGETS_USD;
  const jobs = new JobService(
    store,
    new JobQueue(c.sqs, config.JOBS_QUEUE_URL),
    o.logger,
    new WebhookQueue(c.sqs, config.WEBHOOKS_QUEUE_URL),
    { limits, metrics: o.metrics, ...(budgets && { budget: new MonthlyBudgets(usage, budgets) }) },
  );
  const sources = new ImageSources((tenant, id) => jobs.get(tenant, id), images, {
    maxBytes: config.MAX_IMAGE_BYTES,
    fetchTimeoutMs: config.IMAGE_FETCH_TIMEOUT_MS,
    allowPrivate: overrides.urlPolicy ?? config.ALLOW_PRIVATE_URLS,
  });
  const keys = new KeyStore(c.dynamodb, config.JOBS_TABLE);
  const deps: ApiDeps = {
    keys,
    admin: new AdminKey(config.ADMIN_API_KEY),
    limits,
    routes: routes({
      jobs,
      images,
      registry,
      sources,
      syncWaitMs: config.SYNC_WAIT_MS,
      defaultResponseFormat: config.DEFAULT_RESPONSE_FORMAT,
      webhookSecrets: webhookSecrets(config, c),
      disabledEndpoints: new DisabledEndpoints(c.dynamodb, config.JOBS_TABLE),
      urlPolicy: overrides.urlPolicy ?? config.ALLOW_PRIVATE_URLS,
      keys,
      usage,
      playground: playgroundOptions(config),
    }),
    logger: o.logger,
    maxRequestBytes: config.MAX_REQUEST_BYTES,
    idempotency: new Idempotency(
      { db: c.dynamodb, s3: c.s3 },
      { table: config.JOBS_TABLE, bucket: config.IMAGES_BUCKET },
      o.logger,
      overrides.idempotency,
    ),
  };
  return { o, deps };
}

/** The API behind the HTTP API: answers whole (a streamed image request when its job ends). */
export function createApi(config: ServiceConfig, clients?: Clients, overrides: RuntimeOverrides = {}) {
  const { o, deps } = apiDeps(config, clients, overrides);
  return o.instrument(createApiHandler(deps));
}

/**
 * The API behind a Function URL with InvokeMode RESPONSE_STREAM: the same API, whose SSE answers (stream: true,
 * job events) go out as they are made. Needs the Lambda runtime's `awslambda` global (the sandbox stands in).
 */
export function createStreamingApi(
  config: ServiceConfig,
  clients?: Clients,
  overrides: RuntimeOverrides = {},
): ResponseStreamHandler {
  const { o, deps } = apiDeps(config, clients, overrides);
  return streamifyResponse(o.instrument(createStreamingApiHandler(deps)));
}

export function createRunner(
  config: ServiceConfig,
  clients?: Clients,
  overrides: RuntimeOverrides & { observability?: Observability } = {},
): JobRunner {
  const o =
    overrides.observability ??
    createObservability(config, "worker", { ...(overrides.logWrite && { write: overrides.logWrite }) });
  const c = clientsOf(
    "worker",
    clients ?? createClients(config, { ...(o.tracer && { tracer: o.tracer }) }),
    config,
  );
  const store = new JobStore(c.dynamodb, config.JOBS_TABLE);
  const providers = (c: ServiceConfig) =>
    createProviders(c, o.logger, {
      ...(overrides.providerCredentials && { credentials: overrides.providerCredentials }),
      ...(o.tracer && { tracer: o.tracer }),
      service: "worker",
    });
  const pools = config.PROVIDER_RATE_LIMITS;
  return new JobRunner({
    store,
    queue: new JobQueue(c.sqs, config.JOBS_QUEUE_URL),
    webhooks: new WebhookQueue(c.sqs, config.WEBHOOKS_QUEUE_URL),
    images: imageStore(config, c.s3),
    registry: createRegistry(config, providers(config)),
    ...(pools && {
      providerLimits: new ProviderRateLimiter(
        c.dynamodb,
        config.JOBS_TABLE,
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
        o.logger,
      ),
      // A pooled OpenAI key with a value of its own calls OpenAI with it.
      keyRegistries: Object.fromEntries(
        (pools.openai ?? [])
          .filter((k) => k.api_key !== undefined)
          .map((k) => {
            const keyed = { ...config, OPENAI_API_KEY: k.api_key };
            return [k.name, createRegistry(keyed, providers(keyed))];
          }),
      ),
    }),
    logger: o.logger,
    metrics: o.metrics,
    limits: createLimits(config, c, store, o.logger),
    usage: new UsageLedger(c.dynamodb, config.JOBS_TABLE),
    options: {
      maxAttempts: config.JOB_MAX_ATTEMPTS,
      providerTimeoutMs: config.PROVIDER_TIMEOUT_MS,
      leaseMs: config.WORKER_TIMEOUT_MS,
      cancelCheckMs: config.CANCEL_CHECK_MS,
      sourceFolders: config.TENANT_SOURCE_FOLDERS,
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
  given: Clients = createClients(config),
  overrides: RuntimeOverrides & { logger?: Logger } = {},
): WebhookDeliverer {
  const clients = clientsOf("webhooks", given, config);
  return new WebhookDeliverer({
    jobs: new JobStore(clients.dynamodb, config.JOBS_TABLE),
    events: new WebhookEventStore(clients.dynamodb, config.JOBS_TABLE),
    queue: new WebhookQueue(clients.sqs, config.WEBHOOKS_QUEUE_URL),
    secrets: webhookSecrets(config, clients),
    endpoints: new DisabledEndpoints(clients.dynamodb, config.JOBS_TABLE),
    images: imageStore(config, clients.s3),
    logger: overrides.logger ?? createServiceLogger(config, "webhooks"),
    options: {
      schedule: config.WEBHOOK_RETRY_SCHEDULE,
      timeoutMs: config.WEBHOOK_TIMEOUT_MS,
      allowPrivate: overrides.urlPolicy ?? config.ALLOW_PRIVATE_URLS,
    },
  });
}

/**
 * The worker Lambda: SQS jobs → images. Failed records are reported individually (ReportBatchItemFailures).
 * `tracing`: lib/tracing.ts's createTracing, when the function traces.
 */
export function createWorker(
  config: ServiceConfig,
  tracing?: Tracing,
): LambdaHandler<SQSEvent, SQSBatchResponse> {
  const o = createObservability(config, "worker", { tracing });
  const runner = createRunner(config, createClients(config, { ...(o.tracer && { tracer: o.tracer }) }), {
    observability: o,
  });
  return o.instrument<SQSEvent, SQSBatchResponse>((event, context) =>
    runner.processBatch(event, () => context.getRemainingTimeInMillis()),
  );
}

/** The jobs DLQ consumer: each dead message fails its job, so none is left queued or running forever. */
export function createDeadLetterHandler(
  config: ServiceConfig,
  clients?: Clients,
  tracing?: Tracing,
): LambdaHandler<SQSEvent, SQSBatchResponse> {
  const o = createObservability(config, "dlq", { tracing });
  const c = clientsOf(
    "dlq",
    clients ?? createClients(config, { ...(o.tracer && { tracer: o.tracer }) }),
    config,
  );
  const letters = new DeadLetters({
    store: new JobStore(c.dynamodb, config.JOBS_TABLE),
    webhooks: new WebhookQueue(c.sqs, config.WEBHOOKS_QUEUE_URL),
    logger: o.logger,
    metrics: o.metrics,
  });
  return o.instrument<SQSEvent, SQSBatchResponse>((event) => letters.processBatch(event));
}

/** The webhooks Lambda: one delivery attempt per message, with the same logs, metrics and traces as the others. */
export function createWebhookHandler(
  config: ServiceConfig,
  tracing?: Tracing,
): LambdaHandler<SQSEvent, SQSBatchResponse> {
  const o = createObservability(config, "webhooks", { tracing });
  const clients = createClients(config, { ...(o.tracer && { tracer: o.tracer }) });
  const deliverer = createWebhookDeliverer(config, clients, { logger: o.logger });
  return o.instrument<SQSEvent, SQSBatchResponse>((event) => deliverer.processBatch(event));
}

// --- Inbox: S3 uploads under inbox/{tenant}/ → variation jobs -----------------------------------------------

export function createInbox(
  config: ServiceConfig,
  clients?: Clients,
  overrides: RuntimeOverrides & { observability?: Observability } = {},
): Inbox {
  const o =
    overrides.observability ??
    createObservability(config, "inbox", { ...(overrides.logWrite && { write: overrides.logWrite }) });
  const c = clientsOf(
    "inbox",
    clients ?? createClients(config, { ...(o.tracer && { tracer: o.tracer }) }),
    config,
  );
  const store = new JobStore(c.dynamodb, config.JOBS_TABLE);
  const images = imageStore(config, c.s3);
  const queue = new JobQueue(c.sqs, config.JOBS_QUEUE_URL);
  const webhooks = new WebhookQueue(c.sqs, config.WEBHOOKS_QUEUE_URL);
  const jobs = new JobService(store, queue, o.logger, webhooks, {
    limits: createLimits(config, c, store, o.logger),
    metrics: o.metrics,
  });
  const urlPolicy = overrides.urlPolicy ?? config.ALLOW_PRIVATE_URLS;
  return new Inbox({
    bucket: config.IMAGES_BUCKET,
    s3: c.s3,
    keys: new KeyStore(c.dynamodb, config.JOBS_TABLE),
    store,
    jobs,
    queue,
    webhooks,
    // Routes by provider name, as the API does; the worker calls the provider.
    registry: createRegistry(config, routedProviders(config)),
    sources: new ImageSources((tenant, id) => jobs.get(tenant, id), images, {
      maxBytes: config.MAX_IMAGE_BYTES,
      fetchTimeoutMs: config.IMAGE_FETCH_TIMEOUT_MS,
      allowPrivate: urlPolicy,
    }),
    urlPolicy,
    maxImageBytes: config.MAX_IMAGE_BYTES,
    logger: o.logger,
    metrics: o.metrics,
  });
}

/** The inbox Lambda: S3 event notifications from the inbox queue; failed records are reported individually. */
export function createInboxHandler(
  config: ServiceConfig,
  tracing?: Tracing,
): LambdaHandler<SQSEvent, SQSBatchResponse> {
  const o = createObservability(config, "inbox", { tracing });
  const inbox = createInbox(config, createClients(config, { ...(o.tracer && { tracer: o.tracer }) }), {
    observability: o,
  });
  return o.instrument<SQSEvent, SQSBatchResponse>((event) => inbox.processBatch(event));
}
