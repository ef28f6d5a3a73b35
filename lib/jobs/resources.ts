import * as z from "zod/mini";
import { operations } from "../catalog/catalog.ts";
import { batchStatuses, jobPriorities } from "./batch.ts";
import { imageFormat } from "./inputs.ts";
import { jobEventTypes, jobStatuses, responseQualities } from "./model.ts";

// A job as clients see it (GET /v1/jobs/{id}, webhook payloads) and OpenAI's ImagesResponse, as zod schemas.
// lib/jobs/view.ts builds values of exactly these types, and the API reference (/openapi.json) converts these
// schemas, so the document and the responses have one definition. Runtime code imports the types only: the
// schemas are loaded by the reference generator and by tests, not by the Lambda bundles.

const time = z.string().check(z.describe("ISO 8601 time"));
const nullableTime = z.nullable(time);

const tokenBreakdown = z.object({ text_tokens: z.int(), image_tokens: z.int() });

/** OpenAI's ImageGenUsage: the provider's own figures, summed over its calls. */
const tokenUsage = z.object({
  input_tokens: z.int(),
  output_tokens: z.int(),
  total_tokens: z.int(),
  input_tokens_details: tokenBreakdown,
  output_tokens_details: z.optional(tokenBreakdown),
});

/** OpenAI's ImagesResponse, as the /v1/images endpoints answer. */
export const imagesResponseSchema = z.object({
  created: z.int().check(z.describe("Unix seconds")),
  data: z.array(
    z.object({
      url: z.optional(
        z
          .string()
          .check(
            z.describe("A presigned URL of the image in this deployment's bucket; response_format=url."),
          ),
      ),
      b64_json: z.optional(
        z
          .string()
          .check(
            z.describe(
              "Base64 image bytes: the default, as OpenAI's GPT image models answer (DEFAULT_RESPONSE_FORMAT may make url the default).",
            ),
          ),
      ),
      revised_prompt: z.optional(z.string()),
    }),
  ),
  background: z.optional(
    z.enum(["transparent", "opaque"]).check(z.describe("Transparent when an image has transparent pixels.")),
  ),
  output_format: imageFormat,
  size: z.optional(z.string().check(z.describe("WIDTHxHEIGHT of the images made."))),
  quality: z.optional(
    z
      .enum(responseQualities)
      .check(
        z.describe("The quality made, as the provider reported it or as asked; absent when neither says."),
      ),
  ),
  usage: z.optional(
    tokenUsage.check(
      z.describe(
        "The provider's token figures, summed over its calls; absent when it reports none (placeholder, Bedrock).",
      ),
    ),
  ),
});
export type ImagesResponseResource = z.output<typeof imagesResponseSchema>;

export const outputImageSchema = z.object({
  index: z.int(),
  url: z.string(),
  width: z.int(),
  height: z.int(),
  format: imageFormat,
  bytes: z.int(),
  sha256: z.string(),
  generated: z.optional(
    z
      .object({ width: z.int(), height: z.int() })
      .check(z.describe("The size the model made, when the image was resized to output_size.")),
  ),
  revised_prompt: z.optional(z.string()),
  provider: z.optional(
    z.string().check(z.describe("The provider that made it: the job's, or a fallback's.")),
  ),
  model: z.optional(z.string().check(z.describe("The model that made it: the job's, or a fallback."))),
});
export type OutputImageResource = z.output<typeof outputImageSchema>;

const keptSourceSchema = z.object({
  role: z.enum(["image", "mask"]),
  index: z.int(),
  url: z.string(),
  width: z.int(),
  height: z.int(),
  bytes: z.int(),
  sha256: z.string(),
});
export type KeptSourceResource = z.output<typeof keptSourceSchema>;

export const deliverySchema = z.object({
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
});
export type DeliveryResource = z.output<typeof deliverySchema>;

const usageSchema = z.object({
  images: z.int(),
  provider_calls: z.int(),
  provider_ms: z.number(),
  input_tokens: z.optional(z.int()),
  output_tokens: z.optional(z.int()),
  total_tokens: z.optional(z.int()),
  input_tokens_details: z.optional(tokenBreakdown),
  output_tokens_details: z.optional(tokenBreakdown),
});

export const jobSchema = z.object({
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
      deliveries: z.array(deliverySchema),
    }),
  ),
  created_at: nullableTime,
  started_at: nullableTime,
  finished_at: nullableTime,
  attempts: z.int(),
  output: z.nullable(
    z.object({
      images: z.array(outputImageSchema),
      method: z.optional(z.enum(["variation", "edit"])),
      background: z.optional(
        z
          .enum(["transparent", "opaque"])
          .check(z.describe("What the images are: transparent if one has alpha.")),
      ),
      quality: z.optional(
        z
          .string()
          .check(z.describe("The quality made, as the provider reported it or as asked; never auto.")),
      ),
      sources: z.optional(z.array(keptSourceSchema)),
      urls_expire_at: time,
    }),
  ),
  error: z.nullable(z.object({ type: z.string(), code: z.string(), message: z.string() })),
  usage: z.nullable(usageSchema),
  cost_usd: z.nullable(
    z.number().check(z.describe("Estimated from the price table when the job succeeded; null before.")),
  ),
  fallbacks: z.optional(
    z
      .array(z.object({ model: z.string(), provider: z.string(), failure: z.string(), message: z.string() }))
      .check(z.describe("Models tried before the one that made the images: down or throttling.")),
  ),
  priority: z.enum(jobPriorities),
  batch: z.optional(
    z
      .object({ id: z.string(), status: z.enum(batchStatuses), submitted_at: time })
      .check(
        z.describe(
          "The OpenAI batch that holds the job's requests (the batch lane): the job stays running until the batch ends, within 24 hours.",
        ),
      ),
  ),
});
export type JobResource = z.output<typeof jobSchema>;
