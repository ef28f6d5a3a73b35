import * as z from "zod/mini";

// Priority lanes (issue 16, §3). Interactive jobs (the default) and batch jobs queue apart: in AWS a second queue
// whose event source mapping has a low MaximumConcurrency, so batch work never takes the Lambda capacity that
// interactive jobs need, yet always progresses; in the sandbox a second poller with few slots.

export const jobPriorities = ["interactive", "batch"] as const;
export const jobPriority = z.enum(jobPriorities);
export type JobPriority = z.infer<typeof jobPriority>;

/** OpenAI's batch statuses (Batch.status), as the job view shows them while the batch runs. */
export const batchStatuses = [
  "validating",
  "failed",
  "in_progress",
  "finalizing",
  "completed",
  "expired",
  "cancelling",
  "cancelled",
] as const;

/**
 * A job whose requests went through OpenAI's Batch API (the batch lane): the job stays `running` while the batch
 * does, and the batch poller (functions/batch-poller.ts) settles it.
 */
export const batchSubmission = z.object({
  id: z.string(),
  input_file_id: z.string(),
  submitted_at: z.number(),
  /** The last status the poller saw. */
  status: z.enum(batchStatuses),
  /** Requests in the batch: one per provider call the job's `n` was split into. */
  requests: z.number(),
});
export type BatchSubmission = z.infer<typeof batchSubmission>;
