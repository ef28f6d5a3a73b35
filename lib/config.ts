import * as z from "zod/mini";
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

  OPENAI_API_KEY: optionalString,
  /** In AWS the key lives in Secrets Manager; functions read it once at cold start (lib/secrets.ts). */
  OPENAI_API_KEY_SECRET_ARN: z.optional(
    z.string().check(z.regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/)),
  ),
  OPENAI_BASE_URL: z.optional(z.url()),
  /** Manages tenant keys and reads usage under /admin. Unset, the admin API refuses every request. */
  ADMIN_API_KEY: adminKey,
  /** Model used when a request names none. Defaults to the first live model of the active provider. */
  DEFAULT_MODEL: optionalString,
  /** With no provider key, the placeholder answers for every catalogued model, offline. */
  PLACEHOLDER_FALLBACK: z.prefault(z.stringbool(), "true"),

  PROVIDER_TIMEOUT_MS: z.prefault(int(1_000, 900_000), "180000"),
  PROVIDER_MAX_RETRIES: z.prefault(int(0, 10), "2"),
  /** How long POST /v1/images/* waits for its job. API Gateway cuts requests at 30 s. */
  SYNC_WAIT_MS: z.prefault(int(0, 900_000), "25000"),
  /** The visibility timeout outlives the worker, so a job's lease expires before its message returns. */
  WORKER_TIMEOUT_MS: z.prefault(int(1_000, 900_000), "300000"),
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

  // Playground: where the built web bundle is (the stack ships it beside the API's code). Unset: web/dist of
  // this checkout (the sandbox).
  PLAYGROUND_DIR: optionalString,
});

export type ServiceConfig = z.infer<typeof serviceSchema>;

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
  WORKER_CONCURRENCY: z.prefault(int(1, 64), "4"),
  WORKER_TIMEOUT_MS: z.prefault(int(1_000, 900_000), "300000"),
  PROVIDER_TIMEOUT_MS: z.optional(z.string()),
  PROVIDER_MAX_RETRIES: z.optional(z.string()),
  JOB_MAX_ATTEMPTS: z.optional(z.string()),
  LOG_LEVEL: z.optional(z.string()),
  LOG_FORMAT: z.prefault(z.enum(["json", "pretty"]), "pretty"),
  PLACEHOLDER_FALLBACK: z.optional(z.string()),
  ALLOW_PRIVATE_URLS: z.optional(z.string()),
  CANCEL_CHECK_MS: z.optional(z.string()),
  WEBHOOK_RETRY_SCHEDULE: z.optional(z.string()),
  WEBHOOK_TIMEOUT_MS: z.optional(z.string()),
  WEBHOOK_SECRET_OVERLAP_SECONDS: z.optional(z.string()),
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
  return config;
}

export function loadSandboxConfig(env: Record<string, string | undefined> = process.env): SandboxConfig {
  return parse(sandboxSchema, env, "sandbox");
}

/** The sandbox hands its functions their environment this way, as Lambda would. */
export function setFunctionEnvironment(vars: Record<string, string>): void {
  Object.assign(process.env, vars);
}
