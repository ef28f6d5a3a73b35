import { conform, describeImage } from "../images/formats.ts";
import { partialKey } from "../layout/keys.ts";
import type { Logger } from "../logging.ts";
import type { Job } from "./model.ts";
import type { ImageStorage } from "./ports/storage.ts";
import { announceProgress } from "./signals.ts";
import { type JobStore, partialId } from "./store.ts";

// Partial images (OpenAI's `partial_images`): previews a provider streams while it works. The worker stores
// each one in S3 under the job, beside its outputs, then records it on the job's DynamoDB record (an append,
// lib/jobs/store.ts addPartial) and announces it to waiters in this process. Streams relay them from there: the
// OpenAI-dialect SSE of POST /v1/images/* and GET /v1/jobs/{id}/events. The record is the channel because every
// reader already reads it (the sync wait polls it), it is durable (a stream that reconnects replays from it)
// and it costs one small write per preview: no queue, topic or connection registry to run.

export interface PartialImageSinkDeps {
  store: JobStore;
  images: ImageStorage;
  logger: Logger;
  now?: () => number;
}

/** Stores and announces the previews of one attempt of a job, each (image, index) once. */
export class PartialImageSink {
  readonly #job: Job;
  readonly #deps: PartialImageSinkDeps;
  readonly #now: () => number;
  /** What the job already has (earlier attempts, this one): a retry's second rendering of a preview is dropped. */
  readonly #seen: Set<string>;

  constructor(job: Job, deps: PartialImageSinkDeps) {
    this.#job = job;
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#seen = new Set((job.partials ?? []).map(partialId));
  }

  /**
   * Partial `index` of output image `image`. A preview is a courtesy: one that cannot be stored or recorded is
   * logged and skipped, never a reason to fail the job that is making the real image.
   */
  readonly add = async (image: number, index: number, data: Buffer): Promise<void> => {
    const id = partialId({ image, index });
    if (this.#seen.has(id)) return;
    this.#seen.add(id);
    const job = this.#job;
    const { output_format: format, output_compression: compression, background } = job.input;
    try {
      const bytes = await conform(data, { format, compression, keepAlpha: background !== "opaque" });
      const facts = await describeImage(bytes);
      const key = partialKey(job.tenant, job.id, image, index, format);
      await this.#deps.images.put(key, bytes, format, facts.sha256);
      const now = this.#now();
      const recorded = await this.#deps.store.addPartial(
        job,
        {
          image,
          index,
          key,
          format,
          width: facts.width,
          height: facts.height,
          bytes: facts.bytes,
          attempt: job.attempts,
          created_at: now,
        },
        now,
      );
      if (recorded) announceProgress(job.id, recorded, new Map([[key, bytes]]));
    } catch (err) {
      this.#deps.logger.warn("Could not store a partial image; the job goes on without it", {
        jobId: job.id,
        image,
        index,
        err,
      });
    }
  };
}
