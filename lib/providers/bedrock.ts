import { createHash } from "node:crypto";
import { BedrockRuntimeClient, InvokeModelCommand } from "@aws-sdk/client-bedrock-runtime";
import sharp from "sharp";
import * as z from "zod/mini";
import { type Dimensions, type ImageFormat, type ModelSpec, nearestRatio } from "../catalog/catalog.ts";
import { blackWhiteMask } from "../images/mask.ts";
import { readOptions } from "../images/normalize.ts";
import {
  type EditCall,
  type GenerateCall,
  type ImageProvider,
  ProviderError,
  type ProviderFailure,
  type ProviderResult,
  type RemoveBackgroundCall,
} from "../jobs/ports/provider.ts";
import { withRetries } from "./retry.ts";

// Amazon Bedrock's Stability models through InvokeModel. One image per call, so `n` is that many calls, each
// with a seed derived from the job and the image's index: a retry asks for the very same images. Requests are
// JSON with base64 images; answers are {images, seeds, finish_reasons}. The SDK's own retries are off: ours
// (lib/providers/retry.ts) know the job's deadline.

export interface BedrockProviderOptions {
  /** One InvokeModel call's timeout. */
  timeoutMs: number;
  /** Retries within one job attempt. */
  maxRetries: number;
}

const stabilityResponse = z.object({
  images: z.optional(z.array(z.string())),
  seeds: z.optional(z.array(z.number())),
  finish_reasons: z.optional(z.array(z.nullable(z.string()))),
});

/** Bedrock's errors (the SDK names them from `x-amzn-ErrorType`) as our failure kinds. */
const failureOf: Record<string, ProviderFailure> = {
  ThrottlingException: "rate_limited",
  ServiceQuotaExceededException: "rate_limited",
  ServiceUnavailableException: "unavailable",
  InternalServerException: "unavailable",
  ModelNotReadyException: "unavailable",
  ModelErrorException: "unavailable",
  ModelTimeoutException: "timeout",
  ValidationException: "invalid_request",
  ResourceNotFoundException: "invalid_request",
  AccessDeniedException: "authentication",
};

/** Stability's `finish_reasons`: null is an image; "Filter reason: …" a refusal; anything else a failed inference. */
const refusalPattern = /^filter reason/i;

export class BedrockProvider implements ImageProvider {
  readonly name = "bedrock";
  readonly #client: BedrockRuntimeClient;
  readonly #options: BedrockProviderOptions;

  constructor(client: BedrockRuntimeClient, options: BedrockProviderOptions) {
    this.#client = client;
    this.#options = options;
  }

  async generate(call: GenerateCall): Promise<ProviderResult> {
    const ratios = call.model.sizes.kind === "aspect" ? call.model.sizes.ratios : [];
    const aspect = call.size && ratios.length > 0 ? nearestRatio(ratios, call.size).ratio : "1:1";
    return this.#each(call, (seed) => ({
      prompt: call.prompt,
      aspect_ratio: aspect,
      seed,
      output_format: formatFor(call.model, call.outputFormat),
    }));
  }

  /** Inpainting: the first image, changed where OpenAI's mask is transparent (Stability's mask is white there). */
  async edit(call: EditCall): Promise<ProviderResult> {
    const first = call.images[0] as Buffer;
    const size = call.size ?? (await sizeOf(first));
    const [image, mask] = await Promise.all([fitTo(first, size), blackWhiteMask(call.mask, size)]);
    const common = {
      prompt: call.prompt,
      image: image.toString("base64"),
      mask: mask.toString("base64"),
      output_format: formatFor(call.model, call.outputFormat),
    };
    return this.#each(call, (seed) => ({ ...common, seed }));
  }

  async removeBackground(call: RemoveBackgroundCall): Promise<ProviderResult> {
    const body = {
      image: call.image.toString("base64"),
      output_format: formatFor(call.model, call.outputFormat),
    };
    return { images: [await this.#invoke(call.model, body, call)] };
  }

  /** `call.n` calls, concurrently, each with its index's seed. */
  async #each(
    call: { model: ModelSpec; n: number; seed: string; signal: AbortSignal; deadline?: number | undefined },
    body: (seed: number) => Record<string, unknown>,
  ): Promise<ProviderResult> {
    const images = await Promise.all(
      Array.from({ length: call.n }, (_, i) =>
        this.#invoke(call.model, body(stabilitySeed(call.seed, i)), call),
      ),
    );
    return { images };
  }

  async #invoke(
    model: ModelSpec,
    body: Record<string, unknown>,
    call: { signal: AbortSignal; deadline?: number | undefined },
  ) {
    const modelId = model.upstreamId ?? model.id;
    const payload = JSON.stringify(body);
    const raw = await withRetries(
      async (timeout) => {
        try {
          const res = await this.#client.send(
            new InvokeModelCommand({
              modelId,
              contentType: "application/json",
              accept: "application/json",
              body: new TextEncoder().encode(payload),
            }),
            { abortSignal: AbortSignal.any([call.signal, AbortSignal.timeout(timeout)]) },
          );
          return new TextDecoder().decode(res.body);
        } catch (err) {
          throw toProviderError(err, call.signal);
        }
      },
      {
        maxRetries: this.#options.maxRetries,
        timeoutMs: this.#options.timeoutMs,
        deadline: call.deadline,
        signal: call.signal,
      },
    );
    let parsed: z.infer<typeof stabilityResponse>;
    try {
      parsed = stabilityResponse.parse(JSON.parse(raw));
    } catch (cause) {
      throw new ProviderError("bad_response", "Bedrock answered with no image.", { cause });
    }
    const reason = parsed.finish_reasons?.[0] ?? null;
    if (reason !== null) {
      throw refusalPattern.test(reason)
        ? new ProviderError(
            "content_policy_violation",
            `The request was refused by ${model.id}'s content filter (${reason}).`,
          )
        : new ProviderError("unavailable", `${model.id} could not make the image (${reason}).`);
    }
    const image = parsed.images?.[0];
    if (!image) throw new ProviderError("bad_response", "Bedrock answered with no image.");
    return { data: Buffer.from(image, "base64") };
  }
}

/**
 * The provider with its own client, credentials from the role (or given). `endpoint`: the SDK's
 * AWS_ENDPOINT_URL_BEDROCK_RUNTIME, read by lib/config.ts and passed here.
 */
export function createBedrockProvider(
  options: BedrockProviderOptions & {
    region: string;
    endpoint?: string | undefined;
    credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  },
): { provider: BedrockProvider; client: BedrockRuntimeClient } {
  const client = new BedrockRuntimeClient({
    region: options.region,
    // Our retries (lib/providers/retry.ts) know the job's deadline; the SDK's would not.
    maxAttempts: 1,
    ...(options.endpoint && { endpoint: options.endpoint }),
    ...(options.credentials && { credentials: options.credentials }),
  });
  return { client, provider: new BedrockProvider(client, options) };
}

function toProviderError(err: unknown, signal: AbortSignal): ProviderError {
  const e = err as {
    name?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
    $fault?: string;
  };
  if (e.name === "AbortError" || e.name === "TimeoutError" || signal.aborted) {
    return new ProviderError("timeout", "Bedrock did not answer in time.", { cause: err });
  }
  const status = e.$metadata?.httpStatusCode;
  const failure =
    failureOf[e.name ?? ""] ??
    (status === 429 ? "rate_limited" : status !== undefined && status >= 500 ? "unavailable" : undefined);
  if (failure) {
    return new ProviderError(failure, `Bedrock: ${e.message ?? e.name}`, {
      status,
      cause: { name: e.name, status },
    });
  }
  if (status !== undefined && status >= 400) {
    return new ProviderError("invalid_request", `Bedrock: ${e.message ?? e.name}`, { status });
  }
  // No HTTP answer at all: refused, reset, DNS.
  return new ProviderError("unavailable", "Could not reach Bedrock.", { cause: err });
}

/** Stability's seed range is 0 to 4294967294; derived from the job, so a retry makes the same image. */
export function stabilitySeed(seed: string, index: number): number {
  return createHash("sha256").update(`${seed}:${index}`).digest().readUInt32BE(0) % 4_294_967_295;
}

function formatFor(model: ModelSpec, want: ImageFormat): ImageFormat {
  // The worker transcodes whatever comes back; ask for what the model can make.
  return model.outputFormats.includes(want) ? want : "png";
}

async function sizeOf(png: Buffer): Promise<Dimensions> {
  const meta = await sharp(png, readOptions).metadata();
  return { width: meta.width, height: meta.height };
}

/** The image at `size` (an edit asked for another size), scaled and cropped as the mask is. */
async function fitTo(png: Buffer, size: Dimensions): Promise<Buffer> {
  const meta = await sizeOf(png);
  if (meta.width === size.width && meta.height === size.height) return png;
  return sharp(png, readOptions).resize(size.width, size.height, { fit: "cover" }).png().toBuffer();
}
