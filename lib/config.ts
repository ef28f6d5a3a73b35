import * as z from "zod/mini";
import { defaultJobTimeouts } from "./providers/timeouts.ts";
import { formatIssues } from "./validation.ts";

// The only module that reads process.env. Everything else receives a parsed Config.

const int = (min: number, max: number) => z.coerce.number().check(z.int(), z.gte(min), z.lte(max));
const optionalString = z.optional(z.string().check(z.minLength(1)));
/** Seconds between attempts, comma-separated: "5,300,1800". */
const secondsList = z.pipe(
  z.string().check(z.regex(/^\s*\d{1,6}(\s*,\s*\d{1,6}){0,19}\s*$/)),
  z.transform((v) => v.split(",").map((s) => Number(s.trim()))),
);
// Long enough that guessing is hopeless; the sandbox generates one.
const adminKey = z.optional(z.string().check(z.minLength(32), z.maxLength(256)));

/** A variable holding JSON, checked against `schema`; bad JSON is an issue like any other. */
function json<T extends z.ZodMiniType>(schema: T) {
  return z.pipe(
    z.pipe(
      z.string(),
      z.transform((text, ctx) => {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          ctx.issues.push({ code: "custom", message: "is not valid JSON", input: text });
          return z.NEVER;
        }
      }),
    ),
    schema,
  );
}

const modelId = z.string().check(z.minLength(1), z.maxLength(128));
const providerOperation = z.enum(["generate", "edit", "variation", "outpaint", "remove_background"]);
const sizeText = z.string().check(z.regex(/^\d{2,5}x\d{2,5}$/));
/** A relative S3 folder: path segments of letters, digits, dot, dash and underscore, none of them "." or "..". */
const sourceFolder = z
  .string()
  .check(
    z.maxLength(200),
    z.regex(
      /^(?!\.{1,2}(?:\/|$))[\w.-]+(?:\/(?!\.{1,2}(?:\/|$))[\w.-]+)*$/,
      "must be a relative folder such as images/saved",
    ),
  );

/** One model of an OpenAI-compatible upstream: its capabilities as data, so a new model needs no code. */
export const upstreamModelSchema = z.strictObject({
  id: modelId,
  /** The name the upstream knows it by, when it differs from `id`. */
  upstream_id: z.optional(modelId),
  operations: z.prefault(z.array(providerOperation).check(z.minLength(1)), ["generate"]),
  /** The sizes it makes; absent: any WxH from 64 to 4096 px a side. */
  sizes: z.optional(z.array(sizeText).check(z.minLength(1))),
  default_size: z.prefault(sizeText, "1024x1024"),
  max_images_per_call: z.prefault(z.number().check(z.int(), z.gte(1), z.lte(10)), 1),
  qualities: z.prefault(z.array(z.string()), ["auto"]),
  output_formats: z.prefault(z.array(z.enum(["png", "jpeg", "webp"])).check(z.minLength(1)), ["png"]),
  transparent_background: z.prefault(z.boolean(), false),
  /** For edit, variation and outpaint: how many input images, and whether it takes a mask. */
  edit: z.optional(
    z.strictObject({
      max_images: z.prefault(z.number().check(z.int(), z.gte(1), z.lte(16)), 1),
      mask: z.prefault(z.boolean(), true),
    }),
  ),
  price_per_image_usd: z.optional(z.number().check(z.gte(0))),
  /** The longest one call may take; the slowest served model sizes the worker's timeouts (docs/deploy.md). */
  slowest_call_seconds: z.prefault(z.number().check(z.int(), z.gte(1), z.lte(840)), 120),
});
export type UpstreamModelConfig = z.infer<typeof upstreamModelSchema>;

const reservedProviders = ["openai", "bedrock", "placeholder"];

export const upstreamSchema = z.strictObject({
  name: z.string().check(
    z.regex(/^[a-z][a-z0-9-]{0,31}$/),
    z.refine((n) => !reservedProviders.includes(n), "is a built-in provider's name"),
  ),
  base_url: z.url(),
  /** The variable that holds its API key (read here, never logged); absent: the upstream takes no key. */
  api_key_env: z.optional(z.string().check(z.regex(/^[A-Z_][A-Z0-9_]{0,127}$/))),
  /** In AWS: a Secrets Manager secret holding the key, read by the worker once per cold start. */
  api_key_secret_arn: z.optional(
    z.string().check(z.regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/)),
  ),
  models: z.array(upstreamModelSchema).check(z.minLength(1)),
});
export type UpstreamConfig = z.infer<typeof upstreamSchema> & { api_key?: string | undefined };

/** One provider key's tier (an OpenAI project's images and requests per minute), shared by every worker. */
export const providerKeyLimitSchema = z.strictObject({
  /** Recorded on the jobs it serves; never the key's value. */
  name: z.string().check(z.regex(/^[A-Za-z0-9][\w.-]{0,63}$/)),
  images_per_minute: z.number().check(z.int(), z.gte(1), z.lte(1_000_000)),
  requests_per_minute: z.optional(z.number().check(z.int(), z.gte(1), z.lte(1_000_000))),
  /** The variable holding this key's value (the sandbox); absent, and no secret: the provider's own key. */
  api_key_env: z.optional(z.string().check(z.regex(/^[A-Z_][A-Z0-9_]{0,127}$/))),
  /** In AWS: a Secrets Manager secret holding this key's value, read by the worker once per cold start. */
  api_key_secret_arn: z.optional(
    z.string().check(z.regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/)),
  ),
  /** The tier's window: 60 s. Tests shorten it to run a minute's worth of limiting in seconds. */
  window_seconds: z.prefault(z.number().check(z.int(), z.gte(1), z.lte(3_600)), 60),
});
export type ProviderKeyLimitConfig = z.infer<typeof providerKeyLimitSchema> & {
  api_key?: string | undefined;
};

const serviceSchema = z.object({
  AWS_REGION: z.prefault(z.string(), "us-east-1"),
  /** Sandbox and tests: one endpoint for S3 and SQS, another for DynamoDB (the SDK's own variable names). */
  AWS_ENDPOINT_URL: z.optional(z.url()),
  AWS_ENDPOINT_URL_DYNAMODB: z.optional(z.url()),
  AWS_ENDPOINT_URL_S3: z.optional(z.url()),
  AWS_ENDPOINT_URL_SQS: z.optional(z.url()),
  AWS_ENDPOINT_URL_SECRETS_MANAGER: z.optional(z.url()),

  JOBS_TABLE: z.string().check(z.minLength(1)),
  IMAGES_BUCKET: z.string().check(z.minLength(1)),
  // Not z.url(): emulators hand out queue URLs like http://sqs.us-east-1.127.0.0.1:4566/... that are not valid hostnames.
  JOBS_QUEUE_URL: z.string().check(z.regex(/^https?:\/\/\S+$/)),
  WEBHOOKS_QUEUE_URL: z.string().check(z.regex(/^https?:\/\/\S+$/)),
  /** The batch lane's queue (priority "batch"); unset, batch jobs share the jobs queue. */
  BATCH_QUEUE_URL: z.optional(z.string().check(z.regex(/^https?:\/\/\S+$/))),

  OPENAI_API_KEY: optionalString,
  /** In AWS the key lives in Secrets Manager; functions read it once at cold start (lib/secrets.ts). */
  OPENAI_API_KEY_SECRET_ARN: z.optional(
    z.string().check(z.regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/)),
  ),
  OPENAI_BASE_URL: z.optional(z.url()),
  /**
   * The openai provider is configured, for functions that route jobs but never call it (the API, the inbox): the
   * stack says so at synth, so only the worker may read the key.
   */
  OPENAI_ENABLED: z.prefault(z.stringbool(), "false"),
  /** Manages tenant keys and reads usage under /admin. Unset, the admin API refuses every request. */
  ADMIN_API_KEY: adminKey,
  /** Model used when a request names none. Defaults to the first live model of the active provider. */
  DEFAULT_MODEL: optionalString,
  /** With no provider key, the placeholder answers for every catalogued model, offline. */
  PLACEHOLDER_FALLBACK: z.prefault(z.stringbool(), "true"),
  /**
   * The placeholder's pace when a request asks for partial images: it waits this long before each preview and
   * before the image, as a real model streams. Streaming requests only; 0 streams them at once.
   */
  PLACEHOLDER_PARTIAL_INTERVAL_MS: z.prefault(int(0, 60_000), "250"),

  /** One provider call; the default comes from the slowest catalogued model (lib/providers/timeouts.ts). */
  PROVIDER_TIMEOUT_MS: z.prefault(int(1_000, 900_000), String(defaultJobTimeouts.providerSeconds * 1000)),
  PROVIDER_MAX_RETRIES: z.prefault(int(0, 10), "2"),
  /**
   * What POST /v1/images/* answer with when a request names no response_format: b64_json, as OpenAI answers for
   * its GPT image models, or url (presigned URLs of the images in this deployment's bucket).
   */
  DEFAULT_RESPONSE_FORMAT: z.prefault(z.enum(["b64_json", "url"]), "b64_json"),
  /** How long POST /v1/images/* waits for its job. API Gateway cuts requests at 30 s. */
  SYNC_WAIT_MS: z.prefault(int(0, 900_000), "25000"),
  /** The visibility timeout outlives the worker, so a job's lease expires before its message returns. */
  WORKER_TIMEOUT_MS: z.prefault(int(1_000, 900_000), String(defaultJobTimeouts.workerSeconds * 1000)),
  JOB_MAX_ATTEMPTS: z.prefault(int(1, 20), "3"),
  URL_TTL_SECONDS: z.prefault(int(60, 604_800), "3600"),
  /** API Gateway's own limit is 10 MB. */
  MAX_REQUEST_BYTES: z.prefault(int(1_024, 100 * 1024 * 1024), String(10 * 1024 * 1024)),
  /** Per input image, uploaded, inlined or fetched from a URL; larger ones get a 413. */
  MAX_IMAGE_BYTES: z.prefault(int(1_024, 100 * 1024 * 1024), String(20 * 1024 * 1024)),
  /** Fetching an image URL, redirects included. */
  IMAGE_FETCH_TIMEOUT_MS: z.prefault(int(100, 120_000), "15000"),
  /** How often a running job checks whether it was canceled (in one process a cancel wakes it at once). */
  CANCEL_CHECK_MS: z.prefault(int(50, 60_000), "2000"),
  /**
   * Waits before each webhook retry, in seconds: Standard Webhooks' schedule (5 s … 24 h) by default, each
   * with ±10% jitter. Its length is the number of retries after the first attempt.
   */
  WEBHOOK_RETRY_SCHEDULE: z.prefault(secondsList, "5,300,1800,7200,18000,36000,50400,72000,86400"),
  /** One delivery request, connect to last byte. A slower receiver counts as a failed attempt. */
  WEBHOOK_TIMEOUT_MS: z.prefault(int(500, 30_000), "10000"),
  /** After a rotation, deliveries carry the old secret's signature too, for this long. */
  WEBHOOK_SECRET_OVERLAP_SECONDS: z.prefault(int(0, 7 * 86_400), "86400"),
  /** Lets image and webhook URLs reach private addresses. Off by default, in the sandbox too. */
  ALLOW_PRIVATE_URLS: z.prefault(z.stringbool(), "false"),
  LOG_LEVEL: z.prefault(z.enum(["debug", "info", "warn", "error", "silent"]), "info"),
  LOG_FORMAT: z.prefault(z.enum(["json", "pretty"]), "json"),
  /** CloudWatch namespace for EMF metrics. Unset (the sandbox, tests): no metrics are written. */
  METRICS_NAMESPACE: optionalString,
  /** X-Ray subsegments for AWS SDK calls (functions that import lib/tracing.ts); on in Lambda with active tracing. */
  TRACING: z.prefault(z.stringbool(), "false"),
  /** Tests: each function appends the AWS calls it makes here (lib/aws-calls.ts), for the stack's grant check. */
  AWS_CALL_LOG_DIR: optionalString,

  // Playground: where the built web bundle is (the stack ships it beside the API's code). Unset: web/dist of
  // this checkout (the sandbox).
  PLAYGROUND_DIR: optionalString,
  // --- Providers: Bedrock, OpenAI-compatible upstreams, routing, fallback, budgets -------------------------
  /** Enables Amazon Bedrock (Stability models) in this region. Credentials come from the function's role. */
  BEDROCK_REGION: z.optional(z.string().check(z.regex(/^[a-z]{2}(-[a-z]+)+-\d$/))),
  /** The AWS SDK's own variable for another bedrock-runtime endpoint (the sandbox's or the tests' fake). */
  AWS_ENDPOINT_URL_BEDROCK_RUNTIME: z.optional(z.url()),
  /** The Bedrock models to offer, comma-separated; every catalogued one when unset. The stack grants these. */
  BEDROCK_MODELS: z.optional(
    z.pipe(
      z.string().check(z.regex(/^\s*[\w.:-]+(\s*,\s*[\w.:-]+)*\s*$/)),
      z.transform((v) => v.split(",").map((s) => s.trim())),
    ),
  ),
  /** Named OpenAI-compatible servers and their models' capabilities, as JSON (see upstreamSchema). */
  OPENAI_COMPATIBLE_UPSTREAMS: z.optional(json(z.array(upstreamSchema))),
  /** {"tenant": "model"}: the model a tenant's requests get when they name none. */
  TENANT_DEFAULT_MODELS: z.optional(json(z.record(z.string(), modelId))),
  /** {"model": ["fallback", ...]}: models that take over, in order, when a model's provider is down. */
  MODEL_FALLBACKS: z.optional(
    json(z.record(modelId, z.array(modelId).check(z.minLength(1), z.maxLength(5)))),
  ),
  /**
   * {"provider": [key, ...]}: rate limits per provider key, counted in DynamoDB across all workers; several keys
   * pool for one provider (the least loaded serves each job). A job with no room waits in the queue.
   */
  PROVIDER_RATE_LIMITS: z.optional(
    json(z.record(z.string(), z.array(providerKeyLimitSchema).check(z.minLength(1), z.maxLength(50)))),
  ),
  /**
   * Batch-priority generations of OpenAI models go through OpenAI's Batch API (half price, within 24 hours): the
   * worker submits, the batch poller (functions/batch-poller.ts) settles. Needs the OpenAI key.
   */
  OPENAI_BATCH_LANE: z.prefault(z.stringbool(), "false"),
  /** Open batches the poller looks at per run; the rest wait for the next run. */
  BATCH_POLL_LIMIT: z.prefault(int(1, 1_000), "100"),
  /** {"tenant": USD, "*": USD}: monthly budgets; past one, new jobs get 429 budget_exceeded. */
  TENANT_MONTHLY_BUDGETS_USD: z.optional(json(z.record(z.string(), z.number().check(z.gt(0))))),
  /**
   * {"tenant": "folder", "*": "folder"}: where input images kept with save_source_image / save_source_mask go,
   * as tenants/{tenant}/folders/{folder}/{job}/ (Backendless's "images folder"); beside the job's outputs when unset.
   */
  TENANT_SOURCE_FOLDERS: z.optional(json(z.record(z.string(), sourceFolder))),
  // Reliability (issue 6, item 5): the admin key from Secrets Manager in AWS, as the provider key is.
  /** The API reads ADMIN_API_KEY from this secret once at cold start (lib/secrets.ts). */
  ADMIN_API_KEY_SECRET_ARN: z.optional(
    z.string().check(z.regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/)),
  ),
  // Issue 16 §4: generated images through CloudFront, as signed URLs, instead of presigned S3 URLs.
  /** The distribution's domain (d111111abcdef8.cloudfront.net); with it, image URLs are CloudFront signed URLs. */
  IMAGE_CDN_DOMAIN: z.optional(z.string().check(z.regex(/^[a-z0-9.-]+$/))),
  /** The id of the distribution's public key (its key group's), which CloudFront checks signatures against. */
  IMAGE_CDN_KEY_PAIR_ID: z.optional(z.string().check(z.regex(/^[A-Z0-9]{1,64}$/))),
  /** The matching private key, PEM (the sandbox and tests); in AWS read from the secret below at cold start. */
  IMAGE_CDN_PRIVATE_KEY: optionalString,
  IMAGE_CDN_PRIVATE_KEY_SECRET_ARN: z.optional(
    z.string().check(z.regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/)),
  ),
});

export type ServiceConfig = Omit<
  z.infer<typeof serviceSchema>,
  "OPENAI_COMPATIBLE_UPSTREAMS" | "PROVIDER_RATE_LIMITS"
> & {
  /** With each upstream's key read from its `api_key_env`. */
  OPENAI_COMPATIBLE_UPSTREAMS?: UpstreamConfig[] | undefined;
  /** With each pooled key's value read from its `api_key_env`. */
  PROVIDER_RATE_LIMITS?: Record<string, ProviderKeyLimitConfig[]> | undefined;
};

const sandboxSchema = z.object({
  PORT: z.prefault(int(0, 65_535), "3000"),
  EMULATOR_PORT: z.prefault(int(0, 65_535), "4566"),
  DYNAMODB_PORT: z.prefault(int(0, 65_535), "4567"),
  DATA_DIR: z.prefault(z.string().check(z.minLength(1)), ".data"),
  LOCAL_API_KEY: optionalString,
  ADMIN_API_KEY: adminKey,
  HOST: z.prefault(z.string(), "127.0.0.1"),
  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: z.optional(z.url()),
  DEFAULT_MODEL: optionalString,
  SYNC_WAIT_MS: z.optional(z.string()),
  DEFAULT_RESPONSE_FORMAT: z.optional(z.string()),
  WORKER_CONCURRENCY: z.prefault(int(1, 64), "4"),
  /**
   * Job messages a worker process reads ahead of its free slots, to hand them out fairly between tenants (SQS
   * fair queues, which the emulator lacks). With several worker processes, each holds up to this many.
   */
  WORKER_LOOKAHEAD: z.prefault(int(0, 10_000), "1000"),
  /**
   * Batch-lane jobs (priority "batch") running at once, beside WORKER_CONCURRENCY interactive ones: the sandbox's
   * stand-in for the batch queue's MaximumConcurrency, so batch work progresses and never takes interactive slots.
   */
  BATCH_LANE_CONCURRENCY: z.prefault(int(1, 64), "1"),
  WORKER_TIMEOUT_MS: z.prefault(int(1_000, 900_000), String(defaultJobTimeouts.workerSeconds * 1000)),
  PROVIDER_TIMEOUT_MS: z.optional(z.string()),
  PROVIDER_MAX_RETRIES: z.optional(z.string()),
  JOB_MAX_ATTEMPTS: z.optional(z.string()),
  LOG_LEVEL: z.optional(z.string()),
  LOG_FORMAT: z.prefault(z.enum(["json", "pretty"]), "pretty"),
  PLACEHOLDER_FALLBACK: z.optional(z.string()),
  PLACEHOLDER_PARTIAL_INTERVAL_MS: z.optional(z.string()),
  ALLOW_PRIVATE_URLS: z.optional(z.string()),
  CANCEL_CHECK_MS: z.optional(z.string()),
  WEBHOOK_RETRY_SCHEDULE: z.optional(z.string()),
  WEBHOOK_TIMEOUT_MS: z.optional(z.string()),
  WEBHOOK_SECRET_OVERLAP_SECONDS: z.optional(z.string()),
  TENANT_SOURCE_FOLDERS: z.optional(z.string()),
  /** The batch lane through OpenAI's Batch API: needs OPENAI_API_KEY (and OPENAI_BASE_URL for a fake or a proxy). */
  OPENAI_BATCH_LANE: z.optional(z.string()),
  /** How often the sandbox runs the batch poller when OPENAI_BATCH_LANE is on (EventBridge's schedule in AWS). */
  BATCH_POLL_SECONDS: z.prefault(int(1, 3_600), "10"),
  // Providers: passed to the functions as they are; checked there (serviceSchema).
  BEDROCK_REGION: z.optional(z.string()),
  AWS_ENDPOINT_URL_BEDROCK_RUNTIME: z.optional(z.string()),
  /** Real AWS credentials of the shell, kept for a real Bedrock (the emulators accept any). */
  AWS_PROFILE: z.optional(z.string()),
  AWS_ACCESS_KEY_ID: z.optional(z.string()),

  // Reliability (issue 6, item 5): the job worker in its own process (infra/sandbox/worker.ts), so it can die.
  /** false: `npm start` runs no job worker; start one or more with `npm run sandbox:worker`. */
  RUN_WORKER: z.prefault(z.stringbool(), "true"),
});

export type SandboxConfig = z.infer<typeof sandboxSchema>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

function parse<T extends z.ZodMiniType>(schema: T, env: Record<string, string | undefined>, what: string) {
  // Empty strings mean "unset", as a shell `FOO= npm start` intends.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = schema.safeParse(cleaned, { reportInput: true });
  if (!result.success)
    throw new ConfigError(`Invalid ${what} configuration: ${formatIssues(result.error.issues)}`);
  return result.data as z.infer<T>;
}

export function loadConfig(env: Record<string, string | undefined> = process.env): ServiceConfig {
  const config = parse(serviceSchema, env, "service");
  if (config.OPENAI_API_KEY && config.OPENAI_API_KEY_SECRET_ARN)
    throw new ConfigError(
      "Invalid service configuration: set OPENAI_API_KEY or OPENAI_API_KEY_SECRET_ARN, not both.",
    );
  if (config.ADMIN_API_KEY && config.ADMIN_API_KEY_SECRET_ARN)
    throw new ConfigError(
      "Invalid service configuration: set ADMIN_API_KEY or ADMIN_API_KEY_SECRET_ARN, not both.",
    );
  // Signed image URLs need all three: the domain, the key pair's id, and the private key or its secret (one of them).
  const cdn = [config.IMAGE_CDN_DOMAIN, config.IMAGE_CDN_KEY_PAIR_ID, config.IMAGE_CDN_PRIVATE_KEY];
  const cdnKeys = [config.IMAGE_CDN_PRIVATE_KEY, config.IMAGE_CDN_PRIVATE_KEY_SECRET_ARN].filter(
    Boolean,
  ).length;
  if ((cdn.some(Boolean) || cdnKeys > 0) && (!cdn[0] || !cdn[1] || cdnKeys !== 1))
    throw new ConfigError(
      "Invalid service configuration: signed image URLs need IMAGE_CDN_DOMAIN, IMAGE_CDN_KEY_PAIR_ID and one of IMAGE_CDN_PRIVATE_KEY or IMAGE_CDN_PRIVATE_KEY_SECRET_ARN.",
    );
  const limits = providerRateLimits(config.PROVIDER_RATE_LIMITS, env);
  const upstreams = config.OPENAI_COMPATIBLE_UPSTREAMS;
  if (!upstreams) return { ...config, PROVIDER_RATE_LIMITS: limits };
  const names = upstreams.map((u) => u.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) {
    throw new ConfigError(
      `Invalid service configuration: OPENAI_COMPATIBLE_UPSTREAMS names '${twice}' twice.`,
    );
  }
  return {
    ...config,
    PROVIDER_RATE_LIMITS: limits,
    OPENAI_COMPATIBLE_UPSTREAMS: upstreams.map((u) => {
      if (u.api_key_env !== undefined && u.api_key_secret_arn !== undefined) {
        throw new ConfigError(
          `Invalid service configuration: OPENAI_COMPATIBLE_UPSTREAMS upstream '${u.name}' has api_key_env and api_key_secret_arn; give one.`,
        );
      }
      if (u.api_key_env === undefined) return u;
      const key = env[u.api_key_env];
      if (!key) {
        throw new ConfigError(
          `Invalid service configuration: OPENAI_COMPATIBLE_UPSTREAMS upstream '${u.name}' reads its key from ${u.api_key_env}, which is not set.`,
        );
      }
      return { ...u, api_key: key };
    }),
  };
}

/** Pooled keys' values, read from their variables; names unique per provider. */
function providerRateLimits(
  pools: Record<string, z.infer<typeof providerKeyLimitSchema>[]> | undefined,
  env: Record<string, string | undefined>,
): Record<string, ProviderKeyLimitConfig[]> | undefined {
  if (!pools) return undefined;
  return Object.fromEntries(
    Object.entries(pools).map(([provider, keys]) => {
      const names = keys.map((k) => k.name);
      const twice = names.find((n, i) => names.indexOf(n) !== i);
      if (twice)
        throw new ConfigError(
          `Invalid service configuration: PROVIDER_RATE_LIMITS names key '${twice}' of '${provider}' twice.`,
        );
      return [
        provider,
        keys.map((k) => {
          if (k.api_key_env !== undefined && k.api_key_secret_arn !== undefined)
            throw new ConfigError(
              `Invalid service configuration: PROVIDER_RATE_LIMITS key '${k.name}' of '${provider}' has api_key_env and api_key_secret_arn; give one.`,
            );
          if (k.api_key_env === undefined) return k;
          const value = env[k.api_key_env];
          if (!value)
            throw new ConfigError(
              `Invalid service configuration: PROVIDER_RATE_LIMITS key '${k.name}' of '${provider}' reads its value from ${k.api_key_env}, which is not set.`,
            );
          return { ...k, api_key: value };
        }),
      ];
    }),
  );
}

/** Every secret the configuration holds, for log redaction. */
export function configSecrets(config: ServiceConfig): string[] {
  return [
    config.OPENAI_API_KEY ?? "",
    config.ADMIN_API_KEY ?? "",
    config.IMAGE_CDN_PRIVATE_KEY ?? "",
    ...(config.OPENAI_COMPATIBLE_UPSTREAMS ?? []).map((u) => u.api_key ?? ""),
    ...Object.values(config.PROVIDER_RATE_LIMITS ?? {}).flatMap((keys) => keys.map((k) => k.api_key ?? "")),
  ].filter((s) => s !== "");
}

export function loadSandboxConfig(env: Record<string, string | undefined> = process.env): SandboxConfig {
  return parse(sandboxSchema, env, "sandbox");
}

/** The sandbox hands its functions their environment this way, as Lambda would. */
export function setFunctionEnvironment(vars: Record<string, string>): void {
  Object.assign(process.env, vars);
}
