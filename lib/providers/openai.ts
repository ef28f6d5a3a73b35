import OpenAI, { toFile } from "openai";
import type { Stream } from "openai/streaming";
import type { TokenUsage } from "../catalog/prices.ts";
import {
  type EditCall,
  type GenerateCall,
  type ImageProvider,
  type PartialImageOptions,
  ProviderError,
  type ProviderResult,
  type VariationCall,
} from "../jobs/ports/provider.ts";
import { type Logger, redact } from "../logging.ts";
import { withRetries } from "./retry.ts";

export interface OpenAIProviderOptions {
  /** The provider's name: "openai", or a configured upstream's. */
  name?: string;
  apiKey: string;
  baseURL?: string | undefined;
  /** One HTTP call's timeout. */
  timeoutMs: number;
  /** Retries within one job attempt (lib/providers/retry.ts); the SDK's own retries are off. */
  maxRetries: number;
  /** Used to fetch images from providers that answer with URLs. */
  fetch?: typeof fetch;
  /** Receives the SDK's own log lines, so they pass through redaction like ours. */
  logger?: Logger | undefined;
  logLevel?: "debug" | "info" | "warn" | "error" | "off";
}

const maxDownloadBytes = 64 * 1024 * 1024;

/** OpenAI, or any server that speaks its Images API, through the official SDK. */
export class OpenAIProvider implements ImageProvider {
  readonly name: string;
  readonly #client: OpenAI;
  readonly #apiKey: string;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #maxRetries: number;

  constructor(options: OpenAIProviderOptions, client?: OpenAI) {
    this.name = options.name ?? "openai";
    this.#apiKey = options.apiKey;
    this.#fetch = options.fetch ?? fetch;
    this.#timeoutMs = options.timeoutMs;
    this.#maxRetries = options.maxRetries;
    const log = options.logger;
    this.#client =
      client ??
      new OpenAI({
        apiKey: options.apiKey,
        baseURL: options.baseURL ?? null,
        timeout: options.timeoutMs,
        // The SDK would retry every 429, insufficient_quota included, and past the invocation's end.
        maxRetries: 0,
        ...(log && {
          logLevel: options.logLevel ?? "warn",
          logger: {
            debug: (message, ...rest) => log.debug(message, sdkDetails(rest)),
            info: (message, ...rest) => log.info(message, sdkDetails(rest)),
            warn: (message, ...rest) => log.warn(message, sdkDetails(rest)),
            error: (message, ...rest) => log.error(message, sdkDetails(rest)),
          },
        }),
      });
  }

  async generate(call: GenerateCall): Promise<ProviderResult> {
    const params = generateParams(call);
    const previews = streamed(call);
    if (previews) {
      return this.#answer(
        (o) =>
          collect(
            this.#client.images.generate(
              { ...params, stream: true, partial_images: previews.partialImages },
              o,
            ),
            previews.onPartialImage,
          ),
        call,
      );
    }
    return this.#answer((o) => this.#client.images.generate(params, o), call);
  }

  /** Multipart, as OpenAI takes it: one `image`, or `image[]` for several; `mask` for the first. */
  async edit(call: EditCall): Promise<ProviderResult> {
    const legacy = call.model.id.startsWith("dall-e");
    const files = await Promise.all(
      call.images.map((png, i) => toFile(png, `image-${i}.png`, { type: "image/png" })),
    );
    const params: OpenAI.Images.ImageEditParamsNonStreaming = {
      model: call.model.upstreamId ?? call.model.id,
      prompt: call.prompt,
      image: files.length === 1 ? (files[0] as File) : files,
      n: call.n,
      ...(call.mask && { mask: await toFile(call.mask, "mask.png", { type: "image/png" }) }),
      ...(call.size && { size: `${call.size.width}x${call.size.height}` }),
      ...(call.quality !== undefined && {
        quality: call.quality as NonNullable<OpenAI.Images.ImageEditParams["quality"]>,
      }),
      ...(call.inputFidelity !== undefined && { input_fidelity: call.inputFidelity as "low" | "high" }),
      ...(call.user !== undefined && { user: call.user }),
      ...outputParams(call, legacy),
    };
    const previews = streamed(call);
    if (previews) {
      return this.#answer(
        (o) =>
          collect(
            this.#client.images.edit({ ...params, stream: true, partial_images: previews.partialImages }, o),
            previews.onPartialImage,
          ),
        call,
      );
    }
    return this.#answer((o) => this.#client.images.edit(params, o), call);
  }

  /** The legacy variations endpoint (dall-e-2 and servers that copy it); PNG in, b64_json out. */
  async variation(call: VariationCall): Promise<ProviderResult> {
    const params: OpenAI.Images.ImageCreateVariationParams = {
      model: call.model.upstreamId ?? call.model.id,
      image: await toFile(call.image, "image.png", { type: "image/png" }),
      n: call.n,
      response_format: "b64_json",
      ...(call.size && { size: `${call.size.width}x${call.size.height}` as "1024x1024" }),
      ...(call.user !== undefined && { user: call.user }),
    };
    return this.#answer((o) => this.#client.images.createVariation(params, o), call);
  }

  /** One call, retried within the job's attempt (lib/providers/retry.ts) while another try fits its deadline. */
  async #answer(
    request: (options: {
      signal: AbortSignal;
      timeout: number;
      maxRetries: 0;
    }) => PromiseLike<OpenAI.Images.ImagesResponse>,
    call: { signal: AbortSignal; deadline?: number | undefined },
  ): Promise<ProviderResult> {
    const signal = call.signal;
    const response = await withRetries(
      async (timeout) => {
        try {
          return await request({ signal, timeout, maxRetries: 0 });
        } catch (err) {
          throw this.#toProviderError(err);
        }
      },
      { maxRetries: this.#maxRetries, timeoutMs: this.#timeoutMs, deadline: call.deadline, signal },
    );
    const data = response.data ?? [];
    if (data.length === 0) throw new ProviderError("bad_response", "The provider returned no images.");
    const images = await Promise.all(
      data.map(async (d) => ({
        data: d.b64_json ? Buffer.from(d.b64_json, "base64") : await this.#download(d.url, signal),
        revisedPrompt: d.revised_prompt ?? undefined,
      })),
    );
    return { images, usage: usageOf(response.usage), quality: response.quality ?? undefined };
  }

  async #download(url: string | undefined, signal: AbortSignal): Promise<Buffer> {
    if (!url)
      throw new ProviderError("bad_response", "The provider returned an image with neither data nor URL.");
    const res = await this.#fetch(url, { signal }).catch((cause: unknown) => {
      throw new ProviderError("unavailable", "Could not download the provider's image.", { cause });
    });
    if (!res.ok)
      throw new ProviderError("unavailable", `Downloading the provider's image gave HTTP ${res.status}.`);
    const length = Number(res.headers.get("content-length") ?? 0);
    if (length > maxDownloadBytes)
      throw new ProviderError("bad_response", "The provider's image is too large.");
    const body = Buffer.from(await res.arrayBuffer());
    if (body.length > maxDownloadBytes)
      throw new ProviderError("bad_response", "The provider's image is too large.");
    return body;
  }

  #toProviderError(err: unknown): ProviderError {
    return toProviderError(err, this.#apiKey);
  }
}

/** An SDK error as a ProviderError: what failed, in words that never carry the key. */
export function toProviderError(err: unknown, apiKey: string): ProviderError {
  const clean = (text: string) => redact(text, [apiKey]);
  if (err instanceof OpenAI.APIUserAbortError || err instanceof OpenAI.APIConnectionTimeoutError) {
    return new ProviderError("timeout", "The provider did not answer in time.", { cause: err });
  }
  if (err instanceof OpenAI.APIConnectionError) {
    return new ProviderError("unavailable", "Could not reach the provider.", { cause: err });
  }
  if (!(err instanceof OpenAI.APIError)) {
    return new ProviderError("bad_response", "The provider call failed unexpectedly.", { cause: err });
  }
  const status = err.status;
  const code = typeof err.code === "string" ? err.code : undefined;
  const detail = clean(
    (err.error as { message?: string } | undefined)?.message ?? err.message ?? `HTTP ${status ?? "error"}`,
  );
  const retryAfterMs = retryAfterOf(err.headers);
  // The SDK's error keeps the request and headers; keep only what is safe as the cause.
  const cause = { status, code, type: err.type };
  const opts = { status, retryAfterMs, cause };
  if (code === "insufficient_quota") return new ProviderError("insufficient_quota", detail, opts);
  if (code === "content_policy_violation" || code === "moderation_blocked") {
    return new ProviderError("content_policy_violation", detail, opts);
  }
  if (status === 429) return new ProviderError("rate_limited", detail, opts);
  if (status === 401 || status === 403) return new ProviderError("authentication", detail, opts);
  if (status === 408) return new ProviderError("timeout", detail, opts);
  if (status === 409) return new ProviderError("unavailable", detail, opts); // a lock timeout, says the SDK
  if (status !== undefined && status >= 500) return new ProviderError("unavailable", detail, opts);
  if (status !== undefined && status >= 400) return new ProviderError("invalid_request", detail, opts);
  return new ProviderError("bad_response", detail, opts);
}

/** A generation's request body: the same whether it is sent now or in a batch (lib/providers/openai-batch.ts). */
export function generateParams(
  call: Omit<GenerateCall, "signal" | "seed">,
): OpenAI.Images.ImageGenerateParamsNonStreaming {
  const legacy = call.model.id.startsWith("dall-e");
  return {
    model: call.model.upstreamId ?? call.model.id,
    prompt: call.prompt,
    n: call.n,
    size: call.size ? `${call.size.width}x${call.size.height}` : "auto",
    ...(call.quality !== undefined && {
      quality: call.quality as NonNullable<OpenAI.Images.ImageGenerateParams["quality"]>,
    }),
    ...(call.style !== undefined && { style: call.style as "vivid" | "natural" }),
    ...(call.user !== undefined && { user: call.user }),
    ...outputParams(call, legacy),
    ...(!legacy && call.moderation !== undefined && { moderation: call.moderation }),
  };
}

/** The call's previews, when it asks for any: then the provider is asked to stream. */
function streamed(call: PartialImageOptions) {
  const { partialImages, onPartialImage } = call;
  return partialImages && onPartialImage ? { partialImages, onPartialImage } : undefined;
}

/**
 * Reads an image stream (`stream: true`): each partial image goes to `onPartialImage` as it arrives, awaited so
 * it is stored before the next; the completed images and their usage become the answer a plain call would give.
 * A stream that breaks part-way throws as the request would, and is retried like any other fault.
 */
async function collect(
  request: PromiseLike<Stream<OpenAI.Images.ImageGenStreamEvent | OpenAI.Images.ImageEditStreamEvent>>,
  onPartialImage: NonNullable<PartialImageOptions["onPartialImage"]>,
): Promise<OpenAI.Images.ImagesResponse> {
  const data: OpenAI.Images.Image[] = [];
  let usage: OpenAI.Images.ImagesResponse.Usage | undefined;
  for await (const event of await request) {
    if (event.type === "image_generation.partial_image" || event.type === "image_edit.partial_image") {
      await onPartialImage({ index: event.partial_image_index, data: Buffer.from(event.b64_json, "base64") });
      continue;
    }
    data.push({ b64_json: event.b64_json });
    // One completed event per image, each with that image's tokens; servers that copy OpenAI may send none.
    const u = event.usage as Partial<OpenAI.Images.ImagesResponse.Usage> | undefined;
    if (u?.total_tokens === undefined) continue;
    const sum = (a: number | undefined, b: number | undefined) => (a ?? 0) + (b ?? 0);
    usage = {
      input_tokens: sum(usage?.input_tokens, u.input_tokens),
      output_tokens: sum(usage?.output_tokens, u.output_tokens),
      total_tokens: sum(usage?.total_tokens, u.total_tokens),
      input_tokens_details: {
        text_tokens: sum(usage?.input_tokens_details.text_tokens, u.input_tokens_details?.text_tokens),
        image_tokens: sum(usage?.input_tokens_details.image_tokens, u.input_tokens_details?.image_tokens),
      },
    };
  }
  return { created: Math.floor(Date.now() / 1000), data, ...(usage && { usage }) };
}

/** `retry-after-ms` (OpenAI's), else `retry-after` in seconds or as an HTTP date. */
export function retryAfterOf(headers: Headers | undefined, now = Date.now()): number | undefined {
  const ms = headers?.get("retry-after-ms");
  if (ms && /^\d+(\.\d+)?$/.test(ms)) return Number(ms);
  const value = headers?.get("retry-after");
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** OpenAI's ImageGenUsage as the service keeps it; servers that copy the API may leave the details out. */
export function usageOf(u: OpenAI.Images.ImagesResponse["usage"]): TokenUsage | undefined {
  if (!u) return undefined;
  const breakdown = (d: { text_tokens?: number; image_tokens?: number } | undefined) =>
    typeof d?.text_tokens === "number" && typeof d.image_tokens === "number"
      ? { textTokens: d.text_tokens, imageTokens: d.image_tokens }
      : undefined;
  return {
    inputTokens: u.input_tokens,
    outputTokens: u.output_tokens,
    totalTokens: u.total_tokens,
    inputTokensDetails: breakdown(u.input_tokens_details),
    outputTokensDetails: breakdown(u.output_tokens_details),
  };
}

/** How the image comes back: DALL·E models only as b64_json; gpt-image models in the format asked for. */
function outputParams(
  call: Pick<GenerateCall, "outputFormat" | "outputCompression" | "background">,
  legacy: boolean,
) {
  if (legacy) return { response_format: "b64_json" as const };
  return {
    output_format: call.outputFormat,
    ...(call.outputCompression !== undefined &&
      call.outputFormat !== "png" && { output_compression: call.outputCompression }),
    ...(call.background !== undefined && { background: call.background }),
  };
}

/** The SDK logs live objects; keep what survives JSON, so a log line can never throw inside a request. */
function sdkDetails(rest: unknown[]): Record<string, unknown> | undefined {
  if (rest.length === 0) return undefined;
  try {
    return { details: JSON.parse(JSON.stringify(rest)) as unknown };
  } catch {
    return { details: "[unserializable]" };
  }
}
