import type { Job } from "../model.ts";

/** Counts what jobs used (the usage ledger). */
export interface UsageRecorder {
  /** Counts a job that has just succeeded. Call once per job: by whoever won its transition to success. */
  recordSuccess(job: Job, now?: number): Promise<void>;
}

/** What the API asks before it records a job. */
export interface BudgetGuard {
  admit(tenant: string, now?: number): Promise<void>;
}
