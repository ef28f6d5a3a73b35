import { randomBytes } from "node:crypto";
import * as z from "zod/mini";
import { batchSubmission, jobPriority } from "./batch.ts";
import { imageFormat, jobWork } from "./inputs.ts";

export const jobStatuses = ["queued", "running", "succeeded", "failed", "canceled"] as const;
export type JobStatus = (typeof jobStatuses)[number];
export const terminalStatuses: readonly JobStatus[] = ["succeeded", "failed", "canceled"];
export const isTerminal = (s: JobStatus) => terminalStatuses.includes(s);

export { operations } from "../catalog/catalog.ts";
export type { GenerateInput } from "./inputs.ts";

export const storedImage = z.object({
  index: z.number(),
  key: z.string(),
  width: z.number(),
  height: z.number(),
  format: imageFormat,
  bytes: z.number(),
  sha256: z.string(),
  /** The size the provider made, when the image was resized to the job's `output_size`. */
  generated: z.optional(z.object({ width: z.number(), height: z.number() })),
  revised_prompt: z.optional(z.string()),
  /** Which provider and model made it: the job's, or a fallback of it. */
  provider: z.optional(z.string()),
  model: z.optional(z.string()),
});
export type StoredImage = z.infer<typeof storedImage>;

/**
 * A preview of output image `image` that the provider streamed while the job ran (`partial_images`), stored
 * under the job beside its outputs. Never counted or charged as an image: only `output.images` are.
 */
export const partialImage = z.object({
  /** Which output image it previews. */
  image: z.number(),
  /** OpenAI's `partial_image_index`: 0-based, per output image. */
  index: z.number(),
  key: z.string(),
  format: imageFormat,
  width: z.number(),
  height: z.number(),
  bytes: z.number(),
  /** The attempt that made it; a retry adds only the previews the job does not have yet. */
  attempt: z.number(),
  created_at: z.number(),
});
export type PartialImage = z.infer<typeof partialImage>;

/** An input kept beside the outputs because the request asked (save_source_image, save_source_mask). */
export const keptSource = z.object({
  role: z.enum(["image", "mask"]),
  index: z.number(),
  key: z.string(),
  width: z.number(),
  height: z.number(),
  bytes: z.number(),
  sha256: z.string(),
});
export type KeptSource = z.infer<typeof keptSource>;

/** The qualities OpenAI's ImagesResponse can name; others (dall-e's standard and hd) are left out. */
export const responseQualities = ["low", "medium", "high", "xhigh", "max"] as const;

export const jobError = z.object({ type: z.string(), code: z.string(), message: z.string() });
export type JobError = z.infer<typeof jobError>;

/** A canceled job's `error` says why it was canceled. */
export const cancelReasons = {
  requested: (): JobError => ({
    type: "canceled",
    code: "canceled",
    message: "The job was canceled at the client's request.",
  }),
  deadline: (deadline: number): JobError => ({
    type: "canceled",
    code: "deadline_exceeded",
    message: `The job did not finish by its deadline (${new Date(deadline).toISOString()}), so it was canceled.`,
  }),
};

const tokenBreakdown = z.object({ text_tokens: z.number(), image_tokens: z.number() });

/** The job's work; the token counts are the provider's own figures (summed over its calls), when it reports them. */
export const jobUsage = z.object({
  images: z.number(),
  provider_calls: z.number(),
  provider_ms: z.number(),
  input_tokens: z.optional(z.number()),
  output_tokens: z.optional(z.number()),
  total_tokens: z.optional(z.number()),
  input_tokens_details: z.optional(tokenBreakdown),
  output_tokens_details: z.optional(tokenBreakdown),
});
export type JobUsage = z.infer<typeof jobUsage>;

/** Job lifecycle events a webhook can subscribe to (Standard Webhooks `type`). */
export const jobEventTypes = ["job.started", "job.succeeded", "job.failed", "job.canceled"] as const;
export type JobEventType = (typeof jobEventTypes)[number];

/** Where and what to notify; validated at submission, checked again (SSRF) at every delivery. */
export const webhookConfigRecord = z.object({ url: z.string(), events: z.array(z.enum(jobEventTypes)) });
export type WebhookConfig = z.infer<typeof webhookConfigRecord>;

export const deliveryAttempt = z.object({
  at: z.number(),
  /** HTTP status, absent when no response came (timeout, refused, blocked). */
  status: z.optional(z.number()),
  latency_ms: z.number(),
  error: z.optional(z.string()),
});
export type DeliveryAttempt = z.infer<typeof deliveryAttempt>;

/**
 * One event for the job's webhook, recorded on the job in the same conditional write as the transition that
 * caused it (an outbox): a crash after the write cannot lose it, and every delivery attempt lands here.
 */
export const webhookEvent = z.object({
  /** The Standard Webhooks `webhook-id`: the same on every attempt, so receivers can deduplicate. */
  id: z.string(),
  type: z.enum(jobEventTypes),
  created_at: z.number(),
  status: z.enum(["pending", "delivered", "failed", "skipped"]),
  attempt_count: z.number(),
  next_attempt_at: z.optional(z.number()),
  /** A delivery in progress holds the event until then; another sender waits (at most one request at a time). */
  lease_until: z.optional(z.number()),
  attempts: z.array(deliveryAttempt),
  finished_at: z.optional(z.number()),
  /** Why it was not delivered: endpoint_gone (410), endpoint_disabled, retries_exhausted, invalid_url. */
  reason: z.optional(z.string()),
});
export type WebhookEvent = z.infer<typeof webhookEvent>;

export const metadataSchema = z.record(
  z.string().check(z.minLength(1), z.maxLength(64)),
  z.string().check(z.maxLength(512)),
);

/** What a job holds against its key's limits until it ends: a concurrency slot, images of one UTC day. */
export const jobHold = z.object({
  key_id: z.string(),
  slot: z.boolean(),
  images: z.number(),
  day: z.optional(z.string()),
});
export type JobHold = z.infer<typeof jobHold>;

/** A job as stored in DynamoDB, less its operation and input (`jobWork`). */
const jobFields = z.object({
  id: z.string(),
  tenant: z.string(),
  status: z.enum(jobStatuses),
  model: z.string(),
  provider: z.string(),
  notice: z.optional(z.string()),
  metadata: z.optional(metadataSchema),
  /** Epoch ms after which an unfinished job is canceled (`deadline` or `Cancel-After`). */
  deadline: z.optional(z.number()),
  webhook: z.optional(webhookConfigRecord),
  /** Keyed by the event type without its `job.` prefix (started, succeeded, ...). */
  webhook_events: z.optional(z.record(z.string(), webhookEvent)),
  created_at: z.number(),
  updated_at: z.number(),
  started_at: z.optional(z.number()),
  finished_at: z.optional(z.number()),
  attempts: z.number(),
  lease_until: z.optional(z.number()),
  output: z.optional(
    z.object({
      images: z.array(storedImage),
      sources: z.optional(z.array(keptSource)),
      /** How a variation was made: the provider's variations endpoint, or an edit. */
      method: z.optional(z.enum(["variation", "edit"])),
      /** What the images are, resolved: transparent when one has transparent pixels, else opaque. */
      background: z.optional(z.enum(["transparent", "opaque"])),
      /** The quality made, as the provider reported it, else the concrete quality asked for; never "auto". */
      quality: z.optional(z.string()),
    }),
  ),
  /** Streamed previews, in the order they were recorded (lib/jobs/partials.ts). */
  partials: z.optional(z.array(partialImage)),
  error: z.optional(jobError),
  last_error: z.optional(jobError),
  usage: z.optional(jobUsage),
  /** Estimated from the price table (lib/catalog/prices.ts) when the job succeeded. */
  cost_usd: z.optional(z.number()),
  /** Models tried before the one that made the images, because their providers were down or throttling. */
  fallbacks: z.optional(
    z.array(z.object({ model: z.string(), provider: z.string(), failure: z.string(), message: z.string() })),
  ),
  hold: z.optional(jobHold),
  /** The pooled provider key (its name, never its value) that served the job, when provider limits are on. */
  provider_key: z.optional(z.string()),
  /** The lane it queues in (lib/jobs/batch.ts); absent on records made before lanes: interactive. */
  priority: z.optional(jobPriority),
  /** Sent through OpenAI's Batch API (the batch lane): which batch holds its requests. */
  batch: z.optional(batchSubmission),
});

/**
 * A job as stored in DynamoDB: its fields, and its operation with that operation's input.
 * Items read back are parsed with this before use.
 */
export const jobRecord = z.intersection(jobFields, jobWork);
export type Job = z.infer<typeof jobRecord>;
/** A job of one operation, with that operation's input. */
export type JobOf<O extends Job["operation"]> = Extract<Job, { operation: O }>;

/** The SQS message: a pointer to the job, never its images. */
export const jobMessage = z.object({
  v: z.literal(1),
  tenant: z.string(),
  job_id: z.string(),
  /** Which queue it came from, so a retry or a capacity wait goes back to the same lane. */
  priority: z.optional(jobPriority),
});
export type JobMessage = z.infer<typeof jobMessage>;

const crockford = "0123456789abcdefghjkmnpqrstvwxyz";

/** The ID's time prefix for an instant: a job created at or after `ms` sorts at or after `job_${jobIdTime(ms)}`. */
export function jobIdTime(ms: number): string {
  let time = "";
  let t = Math.max(0, Math.floor(ms));
  for (let i = 0; i < 10; i++) {
    time = crockford[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return time;
}

/** The instant a job ID was made for (millisecond precision): what listing by time sorts and filters on. */
export function jobIdInstant(id: string): number {
  let ms = 0;
  for (const ch of id.slice(4, 14)) ms = ms * 32 + crockford.indexOf(ch);
  return ms;
}

/** Time-ordered IDs: sort keys list newest first with no index, and IDs reveal nothing guessable. */
export function newJobId(now = Date.now()): string {
  let rand = "";
  for (const byte of randomBytes(16)) rand += crockford[byte % 32];
  return `job_${jobIdTime(now)}${rand}`;
}

export const jobIdPattern = /^job_[0-9a-hjkmnp-tv-z]{26}$/;
