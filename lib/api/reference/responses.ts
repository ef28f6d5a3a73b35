import * as z from "zod/mini";
import { keyLimits } from "../../auth/keys.ts";
import { imageFormat } from "../../jobs/inputs.ts";
import { jobEventTypes, jobStatuses, operations } from "../../jobs/model.ts";

// The bodies the API answers with, as zod schemas: the document's response components are converted from
// these, and test/integration/api-reference.test.ts parses real responses with them, so they cannot drift from
// what the handlers (lib/jobs/view.ts, lib/api/routes/*) send. Only the reference generator and tests load this.

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

const tokenUsage = z.object({ input_tokens: z.int(), output_tokens: z.int(), total_tokens: z.int() });

/** OpenAI's ImagesResponse. */
const imagesResponse = z.object({
  created: z.int().check(z.describe("Unix seconds")),
  data: z.array(
    z.object({
      url: z.optional(z.string().check(z.describe("A presigned URL; response_format=url (the default)."))),
      b64_json: z.optional(z.string().check(z.describe("Base64 image bytes; response_format=b64_json."))),
      revised_prompt: z.optional(z.string()),
    }),
  ),
  background: z.optional(z.enum(["transparent", "opaque", "auto"])),
  output_format: imageFormat,
  size: z.optional(z.string().check(z.describe("WIDTHxHEIGHT of the images made."))),
  quality: z.optional(z.string()),
  usage: z.optional(tokenUsage),
});

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
  sizes: z.union([
    z.object({ kind: z.literal("list"), values: z.array(z.string()) }),
    z.object({
      kind: z.literal("range"),
      multipleOf: z.int(),
      minPixels: z.int(),
      maxPixels: z.int(),
      maxEdge: z.int(),
      maxAspect: z.number(),
    }),
  ]),
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
  shutdown_on: z.optional(z.string()),
});

const outputImage = z.object({
  index: z.int(),
  url: z.string(),
  width: z.int(),
  height: z.int(),
  format: imageFormat,
  bytes: z.int(),
  sha256: z.string(),
  revised_prompt: z.optional(z.string()),
});

const jobError = z.object({ type: z.string(), code: z.string(), message: z.string() });

const job = z.object({
  id: z.string().check(z.regex(/^job_[0-9a-hjkmnp-tv-z]{26}$/)),
  object: z.literal("image.job"),
  operation: z.enum(operations),
  status: z.enum(jobStatuses),
  model: z.string(),
  provider: z.string(),
  notice: z.optional(z.string()),
  input: z
    .record(z.string(), z.unknown())
    .check(z.describe("The request as the job keeps it, defaults filled in; input images as their facts.")),
  metadata: z.record(z.string(), z.string()),
  deadline: nullableTime,
  webhook: z.nullable(
    z.object({
      url: z.string(),
      events: z.array(z.enum(jobEventTypes)),
      deliveries: z.array(
        z.object({
          webhook_id: z.string(),
          type: z.enum(jobEventTypes),
          status: z.enum(["pending", "delivered", "failed", "skipped"]),
          reason: z.optional(z.string()),
          attempts: z.array(
            z.object({
              at: nullableTime,
              status: z.nullable(z.int()),
              latency_ms: z.number(),
              error: z.optional(z.string()),
            }),
          ),
          next_attempt_at: nullableTime,
        }),
      ),
    }),
  ),
  created_at: nullableTime,
  started_at: nullableTime,
  finished_at: nullableTime,
  attempts: z.int(),
  output: z.nullable(
    z.object({
      images: z.array(outputImage),
      method: z.optional(z.enum(["variation", "edit"])),
      sources: z.optional(
        z.array(
          z.object({
            role: z.enum(["image", "mask"]),
            index: z.int(),
            url: z.string(),
            width: z.int(),
            height: z.int(),
            bytes: z.int(),
            sha256: z.string(),
          }),
        ),
      ),
      urls_expire_at: time,
    }),
  ),
  error: z.nullable(jobError),
  usage: z.nullable(
    z.object({
      images: z.int(),
      provider_calls: z.int(),
      provider_ms: z.number(),
      input_tokens: z.optional(z.int()),
      output_tokens: z.optional(z.int()),
      total_tokens: z.optional(z.int()),
    }),
  ),
});

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
    job,
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

const usageRow = z.object({
  date: z.string(),
  operation: z.string(),
  model: z.string(),
  jobs: z.int(),
  images: z.int(),
  input_tokens: z.optional(z.int()),
  output_tokens: z.optional(z.int()),
});

const webhookSecret = z.object({
  object: z.literal("webhook.secret"),
  secret: z.string().check(z.describe("whsec_ followed by base64: the Standard Webhooks signing secret.")),
  created_at: nullableTime,
  previous_secret_expires_at: nullableTime,
});

/** Response components by name; routes name theirs (lib/api/reference/operation.ts). */
export const responseSchemas = {
  ImagesResponse: imagesResponse,
  Job: job,
  JobList: z.object({
    object: z.literal("list"),
    data: z.array(job),
    has_more: z.boolean(),
    next_cursor: z.nullable(z.string()),
  }),
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
  Usage: z.object({
    object: z.literal("usage"),
    tenant: z.string(),
    from: z.string(),
    to: z.string(),
    data: z.array(usageRow),
    total: z.object({ jobs: z.int(), images: z.int() }),
  }),
  Health: z.object({ status: z.literal("ok") }),
  ImageGenStreamEvent: imageStreamEvent("image_generation"),
  ImageEditStreamEvent: imageStreamEvent("image_edit"),
  JobEvent: jobEvent,
} satisfies Record<string, z.ZodMiniType>;
