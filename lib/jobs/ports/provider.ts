import type { Dimensions, ImageFormat, ModelSpec } from "../../catalog/catalog.ts";
import type { TokenUsage } from "../../catalog/prices.ts";

/** A preview the provider streamed: partial `index` (0-based) of the image it is making. */
export interface PartialImageData {
  index: number;
  data: Buffer;
}

/**
 * Streaming previews (OpenAI's `partial_images`, 0-3). A provider that streams calls `onPartialImage` for each
 * preview, awaiting it, before it answers; one that cannot (Bedrock) ignores both and answers with the image.
 * Given only for calls that make one image: previews do not say which image of several they belong to.
 */
export interface PartialImageOptions {
  partialImages?: number | undefined;
  onPartialImage?: ((partial: PartialImageData) => Promise<void>) | undefined;
}

export interface GenerateCall extends PartialImageOptions {
  model: ModelSpec;
  prompt: string;
  n: number;
  /** Undefined lets the provider choose ("auto"). */
  size: Dimensions | undefined;
  quality?: string | undefined;
  style?: string | undefined;
  outputFormat: ImageFormat;
  outputCompression?: number | undefined;
  background?: "transparent" | "opaque" | "auto" | undefined;
  moderation?: "low" | "auto" | undefined;
  user?: string | undefined;
  /** Deterministic seed for providers that take one; derived from the job so retries repeat. */
  seed: string;
  signal: AbortSignal;
  /** When `signal` fires (epoch ms). In-call retries that cannot finish by then are left to the queue. */
  deadline?: number | undefined;
}

/** An edit: `images[0]` is edited where `mask` is transparent (alpha 0); the rest are references. */
export interface EditCall extends Omit<GenerateCall, "style" | "moderation"> {
  /** Normalised PNGs, conforming to the model's input rule. */
  images: Buffer[];
  /** A PNG the size of `images[0]`; alpha 0 marks what to change. Without one the whole image may change. */
  mask?: Buffer | undefined;
  inputFidelity?: string | undefined;
}

/** A variation from a provider's own endpoint (models whose `edit.variations` is "native"). */
export interface VariationCall {
  model: ModelSpec;
  image: Buffer;
  n: number;
  size: Dimensions | undefined;
  outputFormat: ImageFormat;
  user?: string | undefined;
  seed: string;
  signal: AbortSignal;
}

/** Cuts the subject out: the background becomes transparent. */
export interface RemoveBackgroundCall {
  model: ModelSpec;
  image: Buffer;
  outputFormat: ImageFormat;
  seed: string;
  signal: AbortSignal;
  deadline?: number | undefined;
}

export interface ProviderImage {
  data: Buffer;
  revisedPrompt?: string | undefined;
}

/** Text and image tokens of an input or output, as OpenAI's ImageGenUsage details them. */
export interface ProviderResult {
  images: ProviderImage[];
  usage?: TokenUsage | undefined;
  /**
   * The quality the provider says it made (OpenAI's response `quality`), when it says: "auto" resolved.
   * Providers that report none leave it out.
   */
  quality?: string | undefined;
}

export interface ImageProvider {
  readonly name: string;
  generate(call: GenerateCall): Promise<ProviderResult>;
  edit(call: EditCall): Promise<ProviderResult>;
  /** Only where the provider has a variations endpoint; otherwise variations are made with `edit`. */
  variation?(call: VariationCall): Promise<ProviderResult>;
  /** Where the provider has a model for it (the catalog says which: operation `remove_background`). */
  removeBackground?(call: RemoveBackgroundCall): Promise<ProviderResult>;
}

export type ProviderFailure =
  | "rate_limited"
  | "unavailable"
  | "timeout"
  | "content_policy_violation"
  | "invalid_request"
  | "authentication"
  | "insufficient_quota"
  | "bad_response";

const retryable: Record<ProviderFailure, boolean> = {
  rate_limited: true,
  unavailable: true,
  timeout: true,
  bad_response: true,
  content_policy_violation: false,
  invalid_request: false,
  authentication: false,
  insufficient_quota: false,
};

/**
 * Which failures hand a job to the next model of its fallback list: the provider is down, slow or throttling
 * (after our retries). A refusal or a bad request would fail the same way anywhere.
 */
export const fallsBack: Record<ProviderFailure, boolean> = {
  rate_limited: true,
  unavailable: true,
  timeout: true,
  bad_response: false,
  content_policy_violation: false,
  invalid_request: false,
  authentication: false,
  insufficient_quota: false,
};

/** A provider call failed. The message is already stripped of secrets; it may be shown to the tenant. */
export class ProviderError extends Error {
  override name = "ProviderError";
  readonly failure: ProviderFailure;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(
    failure: ProviderFailure,
    message: string,
    options: { status?: number | undefined; retryAfterMs?: number | undefined; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.failure = failure;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }

  get retryable(): boolean {
    return retryable[this.failure];
  }
}
