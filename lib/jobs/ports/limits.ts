import type { Principal } from "../../auth/keys.ts";
import type { Job, JobHold } from "../model.ts";

/** What the job pipeline asks when a job is submitted and when it ends. */
export interface JobLimits {
  /** Takes a concurrency slot and `images` of today's allowance for a job about to be recorded. */
  reserveJob(principal: Principal, jobId: string, images: number, now?: number): Promise<JobHold | undefined>;
  /**
   * Gives back what an ended job held. The slot is released idempotently, by anyone, any number of times.
   * Unused images go back only when `settleImages` is set: by whoever moved the job to its terminal
   * status, which a conditional write makes exactly one caller.
   */
  releaseJob(job: Job, settleImages: boolean): Promise<void>;
}

export type Admission =
  | { admitted: true; key: string; images: number }
  | { admitted: false; retryAfterSeconds: number };

/** What the worker asks before calling a provider, and tells it after a 429. */
export interface ProviderAdmission {
  acquire(provider: string, images: number, now?: number): Promise<Admission | undefined>;
  penalize(provider: string, key: string, now?: number): Promise<void>;
}
