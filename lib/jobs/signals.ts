import { EventEmitter } from "node:events";

// Wakes a sync waiter the moment a job settles when API and worker share a process (the sandbox), and a
// running job the moment it is canceled. Across processes (Lambda) both fall back to polling DynamoDB, so
// this is only ever a shortcut.
const settled = new EventEmitter();
settled.setMaxListeners(0);

export function announceSettled(jobId: string): void {
  settled.emit(jobId);
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
