import * as z from "zod/mini";
import type { GenerateCall, ProviderError, ProviderResult } from "./ports/provider.ts";

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

export type BatchStatus = (typeof batchStatuses)[number];
export const batchEnded: readonly BatchStatus[] = ["completed", "failed", "expired", "cancelled"];

/** One request of a batch: which job and provider call it is (`custom_id`), and the call. */
export interface BatchRequest {
  customId: string;
  call: Omit<GenerateCall, "signal" | "seed">;
}

/** A batch as the provider reports it. */
export interface BatchState {
  id: string;
  status: BatchStatus;
  outputFileId?: string | undefined;
  errorFileId?: string | undefined;
  /** Why a failed batch failed, in the provider's words. */
  message?: string | undefined;
}

/** One line of a batch's output or error file: a request's answer, or why it failed. */
export type BatchResult =
  | { customId: string; ok: true; result: ProviderResult }
  | { customId: string; ok: false; error: ProviderError };

/** The Batch API of a provider (OpenAI's: lib/providers/openai-batch.ts). Failures throw ProviderError. */
export interface BatchApi {
  submit(
    requests: BatchRequest[],
    metadata: Record<string, string>,
  ): Promise<BatchState & { inputFileId: string }>;
  retrieve(id: string): Promise<BatchState>;
  /** The lines of an output or error file. */
  results(fileId: string): Promise<BatchResult[]>;
  cancel(id: string): Promise<void>;
}

/** A request's `custom_id`: the job and which of its provider calls (a job's `n` may be split over several). */
export const batchCustomId = (jobId: string, call: number) => `${jobId}:${call}`;
