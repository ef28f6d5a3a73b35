import type { SourceImage } from "./inputs.ts";
import { type Job, responseQualities, type WebhookEvent } from "./model.ts";
import type { ImageStorage } from "./ports/storage.ts";
import type {
  DeliveryResource,
  ImagesResponseResource,
  JobResource,
  KeptSourceResource,
  OutputImageResource,
} from "./resources.ts";

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** An input image as the tenant sees it: its facts, never the bucket key it waits under. */
const publicSource = ({ key: _, ...facts }: SourceImage) => facts;

/** The job's input less internals: S3 keys of input images, and the response format (a sync-call detail). */
function publicInput(job: Job) {
  const { response_format: _, ...input } = job.input;
  if ("images" in input)
    return {
      ...input,
      images: input.images.map(publicSource),
      ...(input.mask && { mask: publicSource(input.mask) }),
    };
  if ("image" in input) return { ...input, image: publicSource(input.image) };
  return input;
}

/**
 * The job as a tenant sees it: S3 keys become fresh presigned URLs; internals stay inside. Every object is a
 * literal of its resource type (lib/jobs/resources.ts), so tsc refuses a field the documented schema lacks.
 */
export async function jobResource(job: Job, images: ImageStorage): Promise<JobResource> {
  const output: JobResource["output"] = job.output
    ? {
        images: await Promise.all(
          job.output.images.map(
            async (img): Promise<OutputImageResource> => ({
              index: img.index,
              url: await images.url(img.key),
              width: img.width,
              height: img.height,
              format: img.format,
              bytes: img.bytes,
              sha256: img.sha256,
              generated: img.generated && { width: img.generated.width, height: img.generated.height },
              revised_prompt: img.revised_prompt,
              provider: img.provider,
              model: img.model,
            }),
          ),
        ),
        method: job.output.method,
        background: job.output.background,
        quality: job.output.quality,
        sources:
          job.output.sources &&
          (await Promise.all(
            job.output.sources.map(
              async (s): Promise<KeptSourceResource> => ({
                role: s.role,
                index: s.index,
                url: await images.url(s.key),
                width: s.width,
                height: s.height,
                bytes: s.bytes,
                sha256: s.sha256,
              }),
            ),
          )),
        urls_expire_at: new Date(Date.now() + images.urlTtlSeconds * 1000).toISOString(),
      }
    : null;
  return {
    id: job.id,
    object: "image.job",
    operation: job.operation,
    status: job.status,
    model: job.model,
    provider: job.provider,
    notice: job.notice,
    input: publicInput(job),
    metadata: job.metadata ?? {},
    deadline: iso(job.deadline),
    webhook: job.webhook
      ? {
          url: job.webhook.url,
          events: job.webhook.events,
          deliveries: Object.values(job.webhook_events ?? {})
            .sort((a, b) => a.created_at - b.created_at)
            .map(deliveryView),
        }
      : null,
    created_at: iso(job.created_at),
    started_at: iso(job.started_at),
    finished_at: iso(job.finished_at),
    attempts: job.attempts,
    output,
    error: job.error ? { type: job.error.type, code: job.error.code, message: job.error.message } : null,
    usage: job.usage
      ? {
          images: job.usage.images,
          provider_calls: job.usage.provider_calls,
          provider_ms: job.usage.provider_ms,
          input_tokens: job.usage.input_tokens,
          output_tokens: job.usage.output_tokens,
          total_tokens: job.usage.total_tokens,
          input_tokens_details: job.usage.input_tokens_details,
          output_tokens_details: job.usage.output_tokens_details,
        }
      : null,
    cost_usd: job.cost_usd ?? null,
    fallbacks: job.fallbacks?.map((f) => ({
      model: f.model,
      provider: f.provider,
      failure: f.failure,
      message: f.message,
    })),
    priority: job.priority ?? "interactive",
    batch: job.batch && {
      id: job.batch.id,
      status: job.batch.status,
      submitted_at: iso(job.batch.submitted_at) as string,
    },
  };
}

/** Every attempt of a webhook event, as the job shows it. */
function deliveryView(e: WebhookEvent): DeliveryResource {
  return {
    webhook_id: e.id,
    type: e.type,
    status: e.status,
    reason: e.reason,
    attempts: e.attempts.map((a) => ({
      at: iso(a.at),
      status: a.status ?? null,
      latency_ms: a.latency_ms,
      error: a.error,
    })),
    next_attempt_at: e.status === "pending" ? iso(e.next_attempt_at ?? e.created_at) : null,
  };
}

const isResponseQuality = (q: string | undefined): q is (typeof responseQualities)[number] =>
  (responseQualities as readonly (string | undefined)[]).includes(q);

/**
 * OpenAI's ImageGenUsage, from the provider's own figures: present when it reported them with their input
 * breakdown (OpenAI always does). Nothing is made up for providers that report none (the placeholder, Bedrock).
 */
export function imageGenUsage(usage: Job["usage"]): ImagesResponseResource["usage"] {
  if (usage?.total_tokens === undefined || !usage.input_tokens_details) return undefined;
  return {
    input_tokens: usage.input_tokens ?? 0,
    output_tokens: usage.output_tokens ?? 0,
    total_tokens: usage.total_tokens,
    input_tokens_details: usage.input_tokens_details,
    ...(usage.output_tokens_details && { output_tokens_details: usage.output_tokens_details }),
  };
}

/**
 * OpenAI's ImagesResponse for a succeeded job. `background`, `quality`, `size` and `output_format` describe the
 * images made (resolved by the worker), never "auto" and never the request's own words.
 */
export async function imagesResponse(
  job: Job,
  images: ImageStorage,
  format: "url" | "b64_json",
): Promise<ImagesResponseResource> {
  const data = await Promise.all(
    (job.output?.images ?? []).map(async (img) => ({
      ...(format === "url"
        ? { url: await images.url(img.key) }
        : { b64_json: (await images.get(img.key)).toString("base64") }),
      ...(img.revised_prompt !== undefined && { revised_prompt: img.revised_prompt }),
    })),
  );
  const output = job.output;
  const first = output?.images[0];
  const quality = output?.quality;
  const usage = imageGenUsage(job.usage);
  return {
    created: Math.floor(job.created_at / 1000),
    data,
    ...(output?.background !== undefined && { background: output.background }),
    output_format: first?.format ?? job.input.output_format,
    ...(first && { size: `${first.width}x${first.height}` }),
    ...(isResponseQuality(quality) && { quality }),
    ...(usage && { usage }),
  };
}

/**
 * The JSON text of an ImagesResponse, as JSON.stringify would write it. Base64 never needs escaping, so each
 * image's text is spliced in as it is instead of being scanned and copied again inside one giant stringify
 * (megabytes per image, the largest CPU cost of a sync answer).
 */
export function imagesResponseJson(response: ImagesResponseResource): string {
  const items = response.data.map((item) => {
    if (!("b64_json" in item) || item.b64_json === undefined) return JSON.stringify(item);
    const { b64_json, ...rest } = item;
    const tail = JSON.stringify(rest);
    return `{"b64_json":"${b64_json}"${tail === "{}" ? "}" : `,${tail.slice(1)}`}`;
  });
  // `created`, a number, comes first, so the first `"data":[]` is the data key's own.
  const skeleton = JSON.stringify({ ...response, data: [] });
  const at = skeleton.indexOf('"data":[]') + '"data":['.length;
  return `${skeleton.slice(0, at)}${items.join(",")}${skeleton.slice(at)}`;
}
