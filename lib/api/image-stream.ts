import { type ApiError, SyncWaitTimeoutError } from "../errors.ts";
import type { Job } from "../jobs/model.ts";
import type { JobService } from "../jobs/service.ts";
import { handedOverImages } from "../jobs/signals.ts";
import { imageGenUsage } from "../jobs/view.ts";
import type { ImageStore } from "../storage/images.ts";
import { errorFrame, jsonWithBase64, sseFrame } from "./sse.ts";

// POST /v1/images/generations and /v1/images/edits with `stream: true`: OpenAI's image stream, relayed from the
// job. The worker stores each partial image and records it on the job (lib/jobs/partials.ts); this watches the
// job as the sync wait does (JobService.watch) and sends each new preview as `<kind>.partial_image`, then each
// image as `<kind>.completed` once the job has succeeded, its images stored exactly as without streaming.
// A job that fails, or outlives the wait, ends the stream with an `error` event in OpenAI's envelope, which the
// openai SDK raises as an APIError.

export type ImageStreamKind = "image_generation" | "image_edit";

export interface ImageStreamDeps {
  jobs: JobService;
  images: ImageStore;
  /** How long the stream waits for the job: the front door's limit. */
  syncWaitMs: number;
}

/** Streams poll DynamoDB this often across processes (after the first 2 s at 50 ms); in one process they are woken. */
const streamPollMs = 100;

/**
 * The fields OpenAI's events describe the image with. From what the job records of the request; OpenAI's
 * resolved values (never "auto") replace these where the job knows them.
 */
function imageFields(job: Job, width: number, height: number) {
  return {
    size: `${width}x${height}`,
    // What the worker resolved once the images are made (completed events); the request's words before that.
    quality: job.output?.quality ?? job.input.quality ?? "auto",
    background: job.output?.background ?? job.input.background ?? "auto",
    output_format: job.input.output_format,
  };
}

/**
 * OpenAI's ImagesUsage: the job's token counts (all of its images), zeros from a provider that reports none.
 * A generation's input is its prompt alone, so its input tokens are text; an edit's split is not reported.
 */
function usageOf(job: Job) {
  const reported = imageGenUsage(job.usage);
  if (reported) return reported;
  const u = job.usage;
  const input = u?.input_tokens ?? 0;
  return {
    input_tokens: input,
    output_tokens: u?.output_tokens ?? 0,
    total_tokens: u?.total_tokens ?? 0,
    input_tokens_details: { text_tokens: job.operation === "generate" ? input : 0, image_tokens: 0 },
  };
}

const unixSeconds = (ms: number) => Math.floor(ms / 1000);

/**
 * The SSE body of a streamed image request for `submitted`. `failed` maps a job that did not succeed to the
 * error its synchronous answer would have been.
 */
export async function* imageStream(
  deps: ImageStreamDeps,
  submitted: Job,
  kind: ImageStreamKind,
  failed: (job: Job) => ApiError,
): AsyncGenerator<string> {
  // The highest preview index sent per image: a retry's earlier previews are not sent twice.
  const sent = new Map<number, number>();
  let job = submitted;
  for await (const seen of deps.jobs.watch(submitted.tenant, submitted.id, deps.syncWaitMs, {
    progress: true,
    pollMs: streamPollMs,
  })) {
    job = seen;
    for (const p of seen.partials ?? []) {
      if (p.index <= (sent.get(p.image) ?? -1)) continue;
      sent.set(p.image, p.index);
      // A worker in this process handed the bytes over with the record; otherwise they are read from S3.
      const bytes = handedOverImages(seen)?.get(p.key) ?? (await deps.images.get(p.key));
      const b64 = bytes.toString("base64");
      const type = `${kind}.partial_image`;
      yield sseFrame({
        event: type,
        data: jsonWithBase64(b64, {
          type,
          created_at: unixSeconds(p.created_at),
          ...imageFields(job, p.width, p.height),
          partial_image_index: p.index,
        }),
      });
    }
  }
  if (job.status === "succeeded") {
    const type = `${kind}.completed`;
    for (const img of job.output?.images ?? []) {
      const bytes = handedOverImages(job)?.get(img.key) ?? (await deps.images.get(img.key));
      const b64 = bytes.toString("base64");
      yield sseFrame({
        event: type,
        data: jsonWithBase64(b64, {
          type,
          created_at: unixSeconds(job.finished_at ?? job.updated_at),
          ...imageFields(job, img.width, img.height),
          usage: usageOf(job),
        }),
      });
    }
    return;
  }
  const error =
    job.status === "queued" || job.status === "running"
      ? new SyncWaitTimeoutError(job.id, deps.syncWaitMs)
      : failed(job);
  yield errorFrame(error);
}
