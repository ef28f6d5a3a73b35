import * as z from "zod/mini";
import { keyLimits } from "../../auth/keys.ts";
import type { ErrorBody } from "../../errors.ts";
import { imageFormat } from "../../jobs/inputs.ts";
import { operations } from "../../jobs/model.ts";
import { imagesResponseSchema, jobSchema } from "../../jobs/resources.ts";
import { dialectResponseSchemas } from "../dialects/responses.ts";

// The bodies the API answers with, as zod schemas: the document's response components are converted from
// these, and the handlers build values of their types (lib/jobs/view.ts, lib/api/routes/*), so tsc refuses a
// field the document lacks; test/support/contract.ts checks every response of the test suites against
// /openapi.json. Runtime code imports the types only: the schemas are loaded by the reference generator and tests.

const time = z.string().check(z.describe("ISO 8601 time"));
const nullableTime = z.nullable(time);

/** OpenAI's error envelope: every 4xx and 5xx. */
export const errorEnvelope = z.object({
  error: z.object({
    message: z.string(),
    type: z
      .string()
      .check(z.describe("invalid_request_error, rate_limit_error, server_error, timeout_error...")),
    param: z.nullable(z.string().check(z.describe("The parameter at fault, as the client sent it."))),
    code: z.nullable(z.string()),
  }),
});

/** The error body lib/errors.ts builds is exactly the documented envelope, both ways. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const errorBodyIsDocumented: Same<z.output<typeof errorEnvelope>, ErrorBody> = true;
void errorBodyIsDocumented;

/** What sizes a model takes (lib/catalog/catalog.ts SizeRule), as GET /v1/models shows it. */
const sizeRule = z.union([
  z.object({ kind: z.literal("list"), values: z.array(z.string()) }),
  z.object({
    kind: z.literal("aspect"),
    ratios: z
      .array(z.object({ ratio: z.string(), size: z.string() }))
      .check(z.describe("Any WxH is taken and becomes the nearest ratio, made at that ratio's size.")),
  }),
  z.object({
    kind: z.literal("range"),
    multipleOf: z.int(),
    minPixels: z.int(),
    maxPixels: z.int(),
    maxEdge: z.int(),
    maxAspect: z.number().check(z.describe("Longest side over shortest side.")),
  }),
]);
export type SizeRuleResource = z.output<typeof sizeRule>;

const pricing = z.object({
  per_image_usd: z
    .record(z.string(), z.number())
    .check(z.describe('USD per image by quality; "*" for any quality not listed.')),
  per_image_at_pixels: z.optional(
    z.int().check(z.describe("Per-image prices are for this many pixels and scale with area.")),
  ),
  per_million_tokens_usd: z.optional(z.object({ input: z.number(), output: z.number() })),
});
export type PricingResource = z.output<typeof pricing>;

/** OpenAI's ImagesUsage, as stream events carry it. */
const imagesUsage = z.object({
  input_tokens: z.int(),
  output_tokens: z.int(),
  total_tokens: z.int(),
  input_tokens_details: z.object({ text_tokens: z.int(), image_tokens: z.int() }),
});

/** OpenAI's image stream events (stream: true): each partial image, then each image. */
function imageStreamEvent(kind: "image_generation" | "image_edit") {
  const fields = {
    b64_json: z.string().check(z.describe("Base64 image bytes.")),
    created_at: z.int().check(z.describe("Unix seconds")),
    size: z.string().check(z.describe("WIDTHxHEIGHT of the image.")),
    quality: z.string(),
    background: z.enum(["transparent", "opaque", "auto"]),
    output_format: imageFormat,
  };
  return z.union([
    z.object({
      type: z.literal(`${kind}.partial_image`),
      ...fields,
      partial_image_index: z.int().check(z.describe("0-based, per image.")),
    }),
    z.object({
      type: z.literal(`${kind}.completed`),
      ...fields,
      usage: imagesUsage.check(z.describe("The job's tokens; zeros from providers that report none.")),
    }),
  ]);
}

/** OpenAI's Model ({id, object, created, owned_by}), with what the model can do here. */
const model = z.object({
  id: z.string(),
  object: z.literal("model"),
  created: z.int(),
  owned_by: z.string(),
  served_by: z.string().check(z.describe("The provider that serves it here.")),
  stand_in: z.optional(
    z.literal(true).check(z.describe("Served by the offline placeholder: no provider key is configured.")),
  ),
  default: z.boolean(),
  operations: z.array(z.enum(operations)),
  sizes: sizeRule,
  qualities: z.array(z.string()),
  output_formats: z.array(imageFormat),
  transparent_background: z.boolean(),
  max_images_per_call: z.int(),
  edit: z.optional(
    z.object({
      max_input_images: z.int(),
      mask: z.boolean(),
      input_fidelity: z.array(z.string()),
      variations: z.enum(["native", "made_with_edit"]),
      input_max_edge: z.int(),
      input_square: z.boolean(),
    }),
  ),
  shutdown_on: z.optional(
    z.string().check(z.describe("The date (YYYY-MM-DD) from which the provider refuses the model.")),
  ),
  alias_of: z.optional(
    z
      .string()
      .check(
        z.describe(
          "A dated snapshot or alias of this model: served with its capabilities and price, sent to the provider by its own id.",
        ),
      ),
  ),
  pricing: z.optional(pricing.check(z.describe("Estimates from the price table, in USD."))),
});
export type ModelResource = z.output<typeof model>;

/** The data of GET /v1/jobs/{id}/events, by event name. */
const jobEvent = z
  .union([
    z.object({ job_id: z.string(), status: z.literal("queued"), created_at: time }),
    z.object({ job_id: z.string(), status: z.literal("running"), attempt: z.int() }),
    z.object({
      job_id: z.string(),
      image_index: z.int().check(z.describe("The output image it previews.")),
      partial_image_index: z.int(),
      url: z.string().check(z.describe("A presigned URL of the preview.")),
      width: z.int(),
      height: z.int(),
      format: imageFormat,
      bytes: z.int(),
      created_at: time,
    }),
    jobSchema,
  ])
  .check(
    z.describe(
      "job.queued, job.running (one per attempt) and job.partial_image carry the first three shapes; job.succeeded, job.failed and job.canceled carry the Job.",
    ),
  );

const apiKey = z.object({
  object: z.literal("api_key"),
  id: z.string(),
  tenant: z.string(),
  name: z.string(),
  created_at: nullableTime,
  limits: keyLimits,
  revoked_at: nullableTime,
});

const usageCounts = {
  jobs: z.int(),
  images: z.int(),
  cost_usd: z.number().check(z.describe("Estimated from the price table.")),
};

const usageRow = z.object({
  date: z.string(),
  operation: z.string(),
  model: z.string(),
  ...usageCounts,
  input_tokens: z.optional(z.int()),
  output_tokens: z.optional(z.int()),
});

const usage = z.object({
  object: z.literal("usage"),
  tenant: z.string(),
  from: z.string(),
  to: z.string(),
  data: z.array(usageRow.check(z.describe("Per UTC day, operation and model."))),
  by_model: z.array(z.object({ model: z.string(), ...usageCounts })),
  total: z.object(usageCounts),
});
export type UsageResource = z.output<typeof usage>;

const webhookSecret = z.object({
  object: z.literal("webhook.secret"),
  secret: z.string().check(z.describe("whsec_ followed by base64: the Standard Webhooks signing secret.")),
  created_at: nullableTime,
  previous_secret_expires_at: nullableTime,
});

/** Response components by name; routes name theirs (lib/api/reference/operation.ts). */
export const responseSchemas = {
  ImagesResponse: imagesResponseSchema,
  Job: jobSchema,
  JobList: z.object({
    object: z.literal("list"),
    data: z.array(jobSchema),
    has_more: z.boolean(),
    next_cursor: z.nullable(z.string()),
  }),
  Model: model,
  ModelList: z.object({ object: z.literal("list"), data: z.array(model) }),
  WebhookSecret: webhookSecret,
  WebhookEndpoint: z.object({
    object: z.literal("webhook.endpoint"),
    url: z.string(),
    enabled: z.literal(true),
    was_disabled: z.boolean(),
  }),
  ApiKey: apiKey,
  CreatedApiKey: z.extend(apiKey, {
    key: z.string().check(z.describe("The secret: shown once, stored as a hash.")),
  }),
  ApiKeyList: z.object({ object: z.literal("list"), data: z.array(apiKey) }),
  Usage: usage,
  Health: z.object({ status: z.literal("ok") }),
  ImageGenStreamEvent: imageStreamEvent("image_generation"),
  ImageEditStreamEvent: imageStreamEvent("image_edit"),
  JobEvent: jobEvent,
  Upload: z.object({
    id: z
      .string()
      .check(z.describe("upload_ followed by 26 characters: give it wherever an image is taken.")),
    object: z.literal("upload"),
    bytes: z.int(),
    created_at: z.int().check(z.describe("Unix seconds")),
    upload_url: z.string().check(z.describe("A presigned S3 URL: PUT the image's bytes to it.")),
    method: z.literal("PUT"),
    headers: z
      .record(z.string(), z.string())
      .check(z.describe("Headers the PUT must carry as given (they are signed): content-length.")),
    expires_at: z.int().check(z.describe("Unix seconds: the URL is refused after this.")),
    usable_until: z.int().check(z.describe("Unix seconds: the upload is deleted after this.")),
  }),
  // Other services' APIs served here (lib/api/dialects).
  ...dialectResponseSchemas,
} satisfies Record<string, z.ZodMiniType>;

/** The body of the named response, as a handler builds it: `body: {...} satisfies Resource<"Usage">`. */
export type Resource<Name extends keyof typeof responseSchemas> = z.output<(typeof responseSchemas)[Name]>;
