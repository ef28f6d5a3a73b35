import { randomBytes } from "node:crypto";
import * as z from "zod/mini";
import { imageFormat, jobWork } from "./inputs.ts";

export const jobStatuses = ["queued", "running", "succeeded", "failed", "canceled"] as const;
export type JobStatus = (typeof jobStatuses)[number];
export const terminalStatuses: readonly JobStatus[] = ["succeeded", "failed", "canceled"];
export const isTerminal = (s: JobStatus) => terminalStatuses.includes(s);

export { operations } from "../providers/catalog.ts";
export type { GenerateInput } from "./inputs.ts";

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

/** A job as stored in DynamoDB, less its operation and input (`jobWork`). */
const jobFields = z.object({
  id: z.string(),
  tenant: z.string(),
  status: z.enum(jobStatuses),
  model: z.string(),
  provider: z.string(),
  notice: z.optional(z.string()),
  metadata: z.optional(metadataSchema),
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
    }),
  ),
  error: z.optional(jobError),
  last_error: z.optional(jobError),
  usage: z.optional(jobUsage),
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
