import { randomBytes } from "node:crypto";
import * as z from "zod/mini";

export const jobStatuses = ["queued", "running", "succeeded", "failed", "canceled"] as const;
export type JobStatus = (typeof jobStatuses)[number];
export const terminalStatuses: readonly JobStatus[] = ["succeeded", "failed", "canceled"];
export const isTerminal = (s: JobStatus) => terminalStatuses.includes(s);

export const operations = ["generate"] as const;

const imageFormat = z.enum(["png", "jpeg", "webp"]);

/** A generate job's input after validation against the model: what the worker needs, nothing more. */
export const generateInput = z.object({
  prompt: z.string(),
  model: z.string(),
  n: z.number(),
  size: z.string(),
  quality: z.optional(z.string()),
  style: z.optional(z.string()),
  output_format: imageFormat,
  output_compression: z.optional(z.number()),
  background: z.optional(z.enum(["transparent", "opaque", "auto"])),
  moderation: z.optional(z.enum(["low", "auto"])),
  user: z.optional(z.string()),
  response_format: z.enum(["url", "b64_json"]),
});
export type GenerateInput = z.infer<typeof generateInput>;

export const storedImage = z.object({
  index: z.number(),
  key: z.string(),
  width: z.number(),
  height: z.number(),
  format: imageFormat,
  bytes: z.number(),
  sha256: z.string(),
  revised_prompt: z.optional(z.string()),
});
export type StoredImage = z.infer<typeof storedImage>;

export const jobError = z.object({ type: z.string(), code: z.string(), message: z.string() });
export type JobError = z.infer<typeof jobError>;

export const jobUsage = z.object({
  images: z.number(),
  provider_calls: z.number(),
  provider_ms: z.number(),
  input_tokens: z.optional(z.number()),
  output_tokens: z.optional(z.number()),
  total_tokens: z.optional(z.number()),
});
export type JobUsage = z.infer<typeof jobUsage>;

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

/** A job as stored in DynamoDB. Items read back are parsed with this before use. */
export const jobRecord = z.object({
  id: z.string(),
  tenant: z.string(),
  operation: z.enum(operations),
  status: z.enum(jobStatuses),
  model: z.string(),
  provider: z.string(),
  notice: z.optional(z.string()),
  input: generateInput,
  metadata: z.optional(metadataSchema),
  created_at: z.number(),
  updated_at: z.number(),
  started_at: z.optional(z.number()),
  finished_at: z.optional(z.number()),
  attempts: z.number(),
  lease_until: z.optional(z.number()),
  output: z.optional(z.object({ images: z.array(storedImage) })),
  error: z.optional(jobError),
  last_error: z.optional(jobError),
  usage: z.optional(jobUsage),
  hold: z.optional(jobHold),
});
export type Job = z.infer<typeof jobRecord>;

/** The SQS message: a pointer to the job, never its images. */
export const jobMessage = z.object({ v: z.literal(1), tenant: z.string(), job_id: z.string() });
export type JobMessage = z.infer<typeof jobMessage>;

const crockford = "0123456789abcdefghjkmnpqrstvwxyz";

/** Time-ordered IDs: sort keys list newest first with no index, and IDs reveal nothing guessable. */
export function newJobId(now = Date.now()): string {
  let time = "";
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = crockford[t % 32] + time;
    t = Math.floor(t / 32);
  }
  let rand = "";
  for (const byte of randomBytes(16)) rand += crockford[byte % 32];
  return `job_${time}${rand}`;
}

export const jobIdPattern = /^job_[0-9a-hjkmnp-tv-z]{26}$/;
