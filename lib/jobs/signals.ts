import { EventEmitter } from "node:events";
import type { Job } from "./model.ts";

// Wakes a sync waiter the moment a job settles when API and worker share a process (the sandbox), a stream the
// moment a partial image is recorded, and a running job the moment it is canceled. Across processes (Lambda) all
// fall back to polling DynamoDB, so this is only ever a shortcut.
const settled = new EventEmitter();
settled.setMaxListeners(0);
// A running job's progress (a partial image recorded), for watchers that relay it (streams); the same shortcut.
const progress = new EventEmitter();
progress.setMaxListeners(0);

// Image bytes handed over with the very record they came with, by S3 key: a stream in this process relays them
// without reading back from S3 what its own process just wrote. Weakly held: gone with the record.
const handedOver = new WeakMap<Job, ReadonlyMap<string, Buffer>>();

/**
 * `job`, when given, is the record as the conditional write that settled it returned (ALL_NEW): durable, so a
 * waiter in this process answers from it instead of reading back what its own process just wrote; `images`, the
 * bytes of the outputs it recorded, by S3 key, for a stream that relays them.
 */
export function announceSettled(jobId: string, job?: Job, images?: ReadonlyMap<string, Buffer>): void {
  if (job && images && settled.listenerCount(jobId) > 0) handedOver.set(job, images);
  settled.emit(jobId, job);
}

/**
 * `job` is the record as the write that added progress (a partial image) returned it; `images`, what that write
 * recorded, by S3 key, when a watcher in this process may want the bytes.
 */
export function announceProgress(jobId: string, job: Job, images?: ReadonlyMap<string, Buffer>): void {
  if (progress.listenerCount(jobId) === 0) return;
  if (images) handedOver.set(job, images);
  progress.emit(jobId, job);
}

/** The bytes an announcer in this process handed over with this record, by S3 key. */
export const handedOverImages = (job: Job): ReadonlyMap<string, Buffer> | undefined => handedOver.get(job);

export interface SettleWatch {
  /** Resolves when the job settles (or has since the watch began or the last wait), or after `ms`. */
  wait(ms: number): Promise<void>;
  /** The settled record an announcer gave, if any. */
  readonly settled: Job | undefined;
  /** The newest progress record announced since the last call (watches made with `progress`), then forgets it. */
  takeProgress(): Job | undefined;
  close(): void;
}

/**
 * Listens from now on, so a job that settles while the waiter is reading its record is not missed. With
 * `progress`, a running job's progress wakes the waiter too, and `takeProgress` hands over its record.
 */
export function watchSettled(jobId: string, options: { progress?: boolean } = {}): SettleWatch {
  let fired = false;
  let wake: (() => void) | undefined;
  let record: Job | undefined;
  let latest: Job | undefined;
  const onSettled = (job?: Job) => {
    fired = true;
    record ??= job;
    wake?.();
  };
  const onProgress = (job: Job) => {
    fired = true;
    if (!latest || job.updated_at >= latest.updated_at) latest = job;
    wake?.();
  };
  settled.on(jobId, onSettled);
  if (options.progress) progress.on(jobId, onProgress);
  return {
    get settled() {
      return record;
    },
    takeProgress() {
      const taken = latest;
      latest = undefined;
      return taken;
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
      progress.off(jobId, onProgress);
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
