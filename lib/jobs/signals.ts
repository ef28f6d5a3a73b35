import { EventEmitter } from "node:events";

// Wakes a sync waiter the moment a job settles when API and worker share a process (the sandbox).
// Across processes (Lambda) waiters fall back to polling DynamoDB, so this is only ever a shortcut.
const settled = new EventEmitter();
settled.setMaxListeners(0);

export function announceSettled(jobId: string): void {
  settled.emit(jobId);
}

export function whenSettled(jobId: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      settled.off(jobId, done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    settled.once(jobId, done);
  });
}
