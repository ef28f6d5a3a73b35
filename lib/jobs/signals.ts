import { EventEmitter } from "node:events";
import type { Job } from "./model.ts";

// Wakes a sync waiter the moment a job settles when API and worker share a process (the sandbox), and a
// running job the moment it is canceled. Across processes (Lambda) both fall back to polling DynamoDB, so
// this is only ever a shortcut.
const settled = new EventEmitter();
settled.setMaxListeners(0);

/**
 * `job`, when given, is the record as the conditional write that settled it returned (ALL_NEW): durable, so a
 * waiter in this process answers from it instead of reading back what its own process just wrote.
 */
export function announceSettled(jobId: string, job?: Job): void {
  settled.emit(jobId, job);
}

export interface SettleWatch {
  /** Resolves when the job settles (or has since the watch began or the last wait), or after `ms`. */
  wait(ms: number): Promise<void>;
  /** The settled record an announcer gave, if any. */
  readonly settled: Job | undefined;
  close(): void;
}

/** Listens from now on, so a job that settles while the waiter is reading its record is not missed. */
export function watchSettled(jobId: string): SettleWatch {
  let fired = false;
  let wake: (() => void) | undefined;
  let record: Job | undefined;
  const onSettled = (job?: Job) => {
    fired = true;
    record ??= job;
    wake?.();
  };
  settled.on(jobId, onSettled);
  return {
    get settled() {
      return record;
    },
    wait(ms) {
      if (fired) {
        fired = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          wake = undefined;
          fired = false;
          resolve();
        }
        wake = done;
      });
    },
    close() {
      settled.off(jobId, onSettled);
      wake?.();
    },
  };
}

/** Resolves when `jobId` is announced, after `ms`, or when `signal` aborts, whichever comes first. */
export function whenSettled(jobId: string, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      settled.off(jobId, done);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    settled.once(jobId, done);
    if (signal?.aborted) done();
    else signal?.addEventListener("abort", done, { once: true });
  });
}
