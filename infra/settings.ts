import * as z from "zod/mini";
import { catalog, type ModelSpec } from "../lib/catalog/catalog.ts";
import { providerKeyLimitSchema, type UpstreamConfig, upstreamSchema } from "../lib/config.ts";
import { jobTimeouts, lambdaMaxSeconds, storeSeconds } from "../lib/providers/timeouts.ts";
import { upstreamModels } from "../lib/providers/upstreams.ts";
import { formatIssues } from "../lib/validation.ts";

// The stack's settings: CDK context (`cdk deploy -c stage=prod -c workerMaxConcurrency=20`, or cdk.json), parsed
// and checked here so a bad value stops `cdk synth` with a message instead of producing a broken stack.

const int = (min: number, max: number) => z.coerce.number().check(z.int(), z.gte(min), z.lte(max));
const optionalString = z.optional(z.string().check(z.minLength(1)));

/** CloudWatch Logs accepts only these retention periods. */
export const logRetentionDays = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** API Gateway HTTP APIs end every integration at 30 s, so a synchronous wait must finish before that. */
export const httpApiIntegrationSeconds = 30;

export const settingsSchema = z.object({
  /** Names the stack (ImageJobs-{stage}) and the metrics namespace. "prod" turns on production safeguards. */
  stage: z.prefault(z.string().check(z.regex(/^[a-z][a-z0-9-]{0,19}$/)), "dev"),
  /** Deletion protection and retained table; defaults to stage === "prod". */
  production: z.optional(z.stringbool()),

  /** Model used when a request names none; defaults to the first live model of a configured provider. */
  defaultModel: optionalString,
  /**
   * Offer OpenAI's models. The worker reads the key from the ProviderKey secret; the API and the inbox are told
   * (OPENAI_ENABLED) instead of reading it. Off: no secret, and only Bedrock's and upstreams' models.
   */
  openaiEnabled: z.prefault(z.stringbool(), "true"),
  /** Serve placeholder images while no provider key is set. Off: jobs for OpenAI models fail clearly. */
  placeholderFallback: z.prefault(z.stringbool(), "false"),
  /** An existing Secrets Manager secret (its complete ARN) holding the provider key; else the stack makes one. */
  providerSecretArn: z.optional(
    z.string().check(z.regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/)),
  ),

  /**
   * What POST /v1/images/* answer with when a request names no response_format: b64_json (OpenAI's answer for
   * GPT image models) or url (presigned URLs of the bucket's images; smaller answers, no 6 MB ceiling).
   */
  defaultResponseFormat: z.prefault(z.enum(["b64_json", "url"]), "b64_json"),
  /** Synchronous image requests wait this long for their job, then answer 202-style with the job id. */
  syncWaitSeconds: z.prefault(int(0, httpApiIntegrationSeconds - 4), "25"),
  /** Also expose the API through a Lambda Function URL, whose synchronous waits may last minutes. */
  functionUrl: z.prefault(z.stringbool(), "false"),
  functionUrlSyncWaitSeconds: z.prefault(int(0, 840), "240"),
  /** Steady-state requests per second and burst across the HTTP API (API Gateway stage throttling). */
  apiRateLimit: z.prefault(int(1, 10_000), "50"),
  apiBurstLimit: z.prefault(int(1, 5_000), "100"),
  /**
   * Origins whose pages may call the HTTP API (CORS), comma-separated: "https://app.example.com". Unset: none, so
   * only the API's own origin (its playground) can call it from a browser.
   */
  apiCorsOrigins: z.optional(
    z.pipe(
      z.string().check(z.regex(/^\s*(\*|https?:\/\/[^\s,/]+)(\s*,\s*(\*|https?:\/\/[^\s,/]+))*\s*$/)),
      z.transform((v) => v.split(",").map((o) => o.trim())),
    ),
  ),

  // --- Concurrency (docs/deploy.md) ----------------------------------------------------------------------
  /** Reserve concurrency for the worker and cap the API. Off only for accounts too small to reserve any. */
  reserveConcurrency: z.prefault(z.stringbool(), "true"),
  /** The account's concurrent executions in this region (`aws lambda get-account-settings`): 1,000 by default. */
  accountConcurrency: z.prefault(int(10, 1_000_000), "1000"),
  /** The API function's reserved concurrency: its ceiling, so waiting requests cannot starve the workers. */
  apiReservedConcurrency: z.prefault(int(1, 100_000), "100"),
  /** The worker's reserved concurrency; at least workerMaxConcurrency, which it defaults to. */
  workerReservedConcurrency: z.optional(int(2, 100_000)),

  /** Defaults from the slowest model served (lib/providers/timeouts.ts): the provider timeout plus 60 s. */
  workerTimeoutSeconds: z.optional(int(60, lambdaMaxSeconds)),
  workerMemoryMb: z.prefault(int(512, 10_240), "2048"),
  /** Jobs running at once: the ceiling on concurrent calls to the provider. Lambda's minimum is 2. */
  workerMaxConcurrency: z.prefault(int(2, 1000), "10"),
  /** Jobs per worker invocation; 1 keeps concurrency equal to jobs in flight. */
  workerBatchSize: z.prefault(int(1, 10), "1"),
  jobMaxAttempts: z.prefault(int(1, 20), "3"),
  /** Defaults from the slowest model served: its slowest call with 25% headroom. */
  providerTimeoutSeconds: z.optional(int(10, lambdaMaxSeconds - 10)),
  providerMaxRetries: z.prefault(int(0, 10), "2"),

  /** Uploaded inputs (sources/, inbox/) are deleted after this many days. */
  sourceRetentionDays: z.prefault(int(1, 3650), "7"),
  /** Generated images are deleted after this many days; 0 keeps them. */
  outputRetentionDays: z.prefault(int(0, 3650), "0"),
  logRetentionDays: z.prefault(
    z.coerce.number().check(z.refine((d) => (logRetentionDays as readonly number[]).includes(d))),
    "30",
  ),
  /** Lifetime of the presigned image URLs the API hands out. */
  urlTtlSeconds: z.prefault(int(60, 604_800), "3600"),
  /** Origins allowed to fetch images from browsers (presigned GETs); comma-separated, "*" for any. */
  corsOrigins: z.prefault(z.string().check(z.minLength(1)), "*"),
  /** Alarm notifications go to an SNS topic; with this, also to this address (confirm the subscription). */
  alarmEmail: z.optional(z.email()),
  logLevel: z.prefault(z.enum(["debug", "info", "warn", "error"]), "info"),

  // --- Providers: Bedrock, routing, budgets ---------------------------------------------------------------
  /** Enables Amazon Bedrock's Stability models in this region; the worker may invoke exactly `bedrockModels`. */
  bedrockRegion: z.optional(z.string().check(z.regex(/^[a-z]{2}(-[a-z]+)+-\d$/))),
  /** Comma-separated Bedrock model ids to offer (and grant); every catalogued Bedrock model when unset. */
  bedrockModels: z.optional(
    z.pipe(
      z.string().check(z.regex(/^\s*[\w.:-]+(\s*,\s*[\w.:-]+)*\s*$/)),
      z.transform((v) => v.split(",").map((m) => m.trim())),
    ),
  ),
  /** JSON, as the functions' MODEL_FALLBACKS: {"gpt-image-2": ["stability.stable-image-core-v1:1"]}. */
  modelFallbacks: optionalString,
  /** JSON, as TENANT_DEFAULT_MODELS: {"acme": "stability.sd3-5-large-v1:0"}. */
  tenantDefaultModels: optionalString,
  /** JSON, as TENANT_MONTHLY_BUDGETS_USD: {"acme": 50, "*": 10}. */
  tenantMonthlyBudgetsUsd: optionalString,
  /** JSON, as TENANT_SOURCE_FOLDERS: {"acme": "backendless/images"}. */
  tenantSourceFolders: optionalString,
  /** JSON, as OPENAI_COMPATIBLE_UPSTREAMS; keys by `api_key_secret_arn`, which only the worker may read. */
  openaiCompatibleUpstreams: optionalString,

  // --- Scale (docs/scale.md) --------------------------------------------------------------------------------
  /**
   * JSON, as the worker's PROVIDER_RATE_LIMITS: {"openai": [{"name": "tier-4", "images_per_minute": 150}]}. Keys
   * are counted in the jobs table (items PRL#..., expired by its TTL); a job with no room waits in the queue.
   */
  providerRateLimits: optionalString,
  /**
   * The batch lane's queue (jobs with priority "batch") is served by the worker with at most this many concurrent
   * invocations, so a batch burst never takes the capacity interactive jobs need (docs/batch-lane.md).
   */
  batchLaneMaxConcurrency: z.prefault(int(2, 1000), "2"),
  /** Batch-priority generations of OpenAI models go through OpenAI's Batch API (half price, within 24 h). */
  openaiBatchLane: z.prefault(z.stringbool(), "false"),
  /** How often the batch poller looks for ended batches, in minutes. */
  batchPollMinutes: z.prefault(int(1, 60), "1"),
  /** A CloudFront distribution in front of generated images (origin access control); off by default. */
  imageCdn: z.prefault(z.stringbool(), "false"),
  /** PEM public key: with it, the distribution serves signed URLs only (a key group of this one key). */
  imageCdnPublicKeyPem: optionalString,
  /**
   * A Secrets Manager secret holding the matching PEM private key (you create it): with it, the API and webhook
   * payloads hand out CloudFront signed URLs for generated images instead of presigned S3 URLs.
   */
  imageCdnPrivateKeySecretArn: z.optional(
    z.string().check(z.regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/)),
  ),
});

type ParsedSettings = z.infer<typeof settingsSchema>;
export type StackSettings = Omit<
  ParsedSettings,
  "production" | "workerTimeoutSeconds" | "providerTimeoutSeconds" | "workerReservedConcurrency"
> & {
  production: boolean;
  workerTimeoutSeconds: number;
  providerTimeoutSeconds: number;
  workerReservedConcurrency: number;
};

/** Lambda keeps this much of an account's concurrency unreserved; reservations must leave it. */
export const unreservedConcurrencyMinimum = 100;

export class SettingsError extends Error {
  override name = "SettingsError";
}

/** Context values arrive as strings (-c) or JSON values (cdk.json); both become strings before parsing. */
export function parseSettings(context: Record<string, unknown>, now = new Date()): StackSettings {
  const names = Object.keys(settingsSchema.shape);
  const input = Object.fromEntries(
    Object.entries(context)
      .filter(([k, v]) => names.includes(k) && v !== undefined && v !== null && v !== "")
      .map(([k, v]) => [k, String(v)]),
  );
  const result = settingsSchema.safeParse(input);
  if (!result.success)
    throw new SettingsError(`Invalid stack settings: ${formatIssues(result.error.issues)}`);
  const parsed = result.data;
  if (parsed.openaiEnabled === false && parsed.providerSecretArn !== undefined)
    throw new SettingsError("Invalid stack settings: providerSecretArn is set but openaiEnabled is false.");
  if (parsed.openaiEnabled === false && parsed.openaiBatchLane)
    throw new SettingsError("Invalid stack settings: openaiBatchLane needs openaiEnabled (OpenAI's key).");
  // The slowest model this stack serves sizes the timeouts, unless they are set.
  const timeouts = jobTimeouts(servedModels(parsed), now);
  const providerTimeoutSeconds = parsed.providerTimeoutSeconds ?? timeouts.providerSeconds;
  const workerTimeoutSeconds = parsed.workerTimeoutSeconds ?? providerTimeoutSeconds + storeSeconds;
  if (workerTimeoutSeconds > lambdaMaxSeconds)
    throw new SettingsError(
      `Invalid stack settings: ${timeouts.slowest.model} may take ${timeouts.slowest.seconds} s a call, so the worker ` +
        `would need ${workerTimeoutSeconds} s, over Lambda's ${lambdaMaxSeconds} s. Set providerTimeoutSeconds lower ` +
        "(its slowest calls then fail as timeouts), or stop serving the model.",
    );
  const s: StackSettings = {
    ...parsed,
    production: parsed.production ?? parsed.stage === "prod",
    providerTimeoutSeconds,
    workerTimeoutSeconds,
    workerReservedConcurrency: parsed.workerReservedConcurrency ?? parsed.workerMaxConcurrency,
  };
  if (s.providerTimeoutSeconds + 10 > s.workerTimeoutSeconds)
    throw new SettingsError(
      "Invalid stack settings: providerTimeoutSeconds must be at least 10 s shorter than workerTimeoutSeconds, " +
        "so the worker can store the images and record the outcome before Lambda stops it.",
    );
  const bedrock = catalog.filter((m) => m.provider === "bedrock").map((m) => m.id);
  const unknown = s.bedrockModels?.find((m) => !bedrock.includes(m));
  if (unknown)
    throw new SettingsError(
      `Invalid stack settings: bedrockModels names '${unknown}', which is not a Bedrock model of the catalog (${bedrock.join(", ")}).`,
    );
  for (const name of [
    "modelFallbacks",
    "tenantDefaultModels",
    "tenantMonthlyBudgetsUsd",
    "tenantSourceFolders",
  ] as const) {
    const value = s[name];
    if (value === undefined) continue;
    try {
      JSON.parse(value);
    } catch {
      throw new SettingsError(`Invalid stack settings: ${name} is not valid JSON.`);
    }
  }
  if (s.providerRateLimits !== undefined) providerRateLimitsOf(s.providerRateLimits);
  if (s.imageCdnPublicKeyPem !== undefined && !s.imageCdn)
    throw new SettingsError("Invalid stack settings: imageCdnPublicKeyPem needs imageCdn=true.");
  if (s.imageCdnPrivateKeySecretArn !== undefined && s.imageCdnPublicKeyPem === undefined)
    throw new SettingsError(
      "Invalid stack settings: imageCdnPrivateKeySecretArn needs imageCdnPublicKeyPem (the key it pairs with).",
    );
  if (s.reserveConcurrency) checkReservations(s);
  return s;
}

/** Reserved concurrency that fits: the worker's covers its event source, and the account keeps its minimum. */
function checkReservations(s: StackSettings): void {
  if (s.workerReservedConcurrency < s.workerMaxConcurrency)
    throw new SettingsError(
      `Invalid stack settings: workerReservedConcurrency (${s.workerReservedConcurrency}) is below workerMaxConcurrency ` +
        `(${s.workerMaxConcurrency}); the queue would hand the worker jobs that Lambda then throttles.`,
    );
  const reserved = s.workerReservedConcurrency + s.apiReservedConcurrency * (s.functionUrl ? 2 : 1);
  const available = s.accountConcurrency - unreservedConcurrencyMinimum;
  if (reserved > available)
    throw new SettingsError(
      `Invalid stack settings: the functions reserve ${reserved} concurrent executions, but an account of ` +
        `${s.accountConcurrency} (accountConcurrency) can reserve ${Math.max(available, 0)}: Lambda keeps ` +
        `${unreservedConcurrencyMinimum} unreserved. Lower apiReservedConcurrency or workerMaxConcurrency, ask AWS ` +
        "for more concurrency, or set reserveConcurrency=false (docs/deploy.md).",
    );
}

/** The models a stack serves: OpenAI's when enabled, the placeholder, the granted Bedrock models, upstreams'. */
function servedModels(s: ParsedSettings): ModelSpec[] {
  const bedrock = s.bedrockRegion
    ? (s.bedrockModels ?? catalog.filter((m) => m.provider === "bedrock").map((m) => m.id))
    : [];
  return [
    ...catalog.filter(
      (m) =>
        m.provider === "placeholder" ||
        (m.provider === "openai" && s.openaiEnabled) ||
        (m.provider === "bedrock" && bedrock.includes(m.id)),
    ),
    ...(s.openaiCompatibleUpstreams ? upstreamModels(upstreamsOf(s.openaiCompatibleUpstreams)) : []),
  ];
}

/** The upstreams a stack configures, checked as the functions will check them; keys only from secrets. */
export function upstreamsOf(json: string): UpstreamConfig[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new SettingsError("Invalid stack settings: openaiCompatibleUpstreams is not valid JSON.");
  }
  const result = z.array(upstreamSchema).safeParse(parsed);
  if (!result.success)
    throw new SettingsError(
      `Invalid stack settings: openaiCompatibleUpstreams ${formatIssues(result.error.issues)}`,
    );
  const withEnvKey = result.data.find((u) => u.api_key_env !== undefined);
  if (withEnvKey)
    throw new SettingsError(
      `Invalid stack settings: openaiCompatibleUpstreams upstream '${withEnvKey.name}' reads its key from a variable; in AWS give api_key_secret_arn.`,
    );
  return result.data;
}

/** The Bedrock models a stack offers and grants: the setting's, or every catalogued one. */
export function bedrockModelIds(s: StackSettings): string[] {
  if (!s.bedrockRegion) return [];
  return s.bedrockModels ?? catalog.filter((m) => m.provider === "bedrock").map((m) => m.id);
}

/** The provider key pools a stack configures, checked as the worker checks them; no key values in the stack. */
export function providerRateLimitsOf(json: string): Record<string, z.infer<typeof providerKeyLimitSchema>[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new SettingsError("Invalid stack settings: providerRateLimits is not valid JSON.");
  }
  const result = z
    .record(z.string(), z.array(providerKeyLimitSchema).check(z.minLength(1), z.maxLength(50)))
    .safeParse(parsed);
  if (!result.success)
    throw new SettingsError(
      `Invalid stack settings: providerRateLimits ${formatIssues(result.error.issues)}`,
    );
  // A key's value in a function's environment would be readable by anyone who can read the function: in AWS a
  // pooled key is the provider key (its secret) or has a secret of its own (api_key_secret_arn).
  const keyed = Object.values(result.data)
    .flat()
    .find((k) => k.api_key_env !== undefined);
  if (keyed)
    throw new SettingsError(
      `Invalid stack settings: providerRateLimits key '${keyed.name}' sets api_key_env; in AWS give api_key_secret_arn (a secret per key) or neither (the provider key's secret).`,
    );
  return result.data;
}
