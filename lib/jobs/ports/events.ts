import type { Job } from "../model.ts";

/** Where a job's recorded events go to be delivered (the webhooks queue); the core only records them. */
export interface EventPublisher {
  /**
   * Hands the job's recorded but not yet attempted events on, returning how many. Safe to repeat: any path that
   * sees pending events may call it.
   */
  dispatch(job: Job): Promise<number>;
}
