import type { Dimensions, ModelSpec, Price } from "./catalog.ts";

// What images cost, as data: per provider model, per quality, scaled by size where the provider bills by area.
// Estimates for reports and budgets, not invoices: prices change, so check them against the providers' pages
// (OpenAI: developers.openai.com/api/docs/pricing; Bedrock: aws.amazon.com/bedrock/pricing) when they do.

export interface TokenBreakdown {
  textTokens: number;
  imageTokens: number;
}

/** The provider's own figures (OpenAI's `usage`); providers that report none leave it out. */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  inputTokensDetails?: TokenBreakdown | undefined;
  outputTokensDetails?: TokenBreakdown | undefined;
}

/** Which price applies: the synchronous API's, or the Batch API's (priority "batch" through the batch lane). */
export type PriceTier = "interactive" | "batch";

const megapixel = 1024 * 1024;

/** gpt-image-2 bills tokens; the per-image figures are OpenAI's published estimates for 1024×1024. */
const gptImage2: Price = {
  perImage: { low: 0.006, medium: 0.053, high: 0.211, auto: 0.053, "*": 0.211 },
  referencePixels: megapixel,
  tokens: { input: 8, output: 30 },
  // The Batch API: 50% off the synchronous price (OpenAI's gpt-image-2 model page, "Batch: Supported").
  batch: {
    perImage: { low: 0.003, medium: 0.0265, high: 0.1055, auto: 0.0265, "*": 0.1055 },
    referencePixels: megapixel,
    tokens: { input: 4, output: 15 },
  },
};

const gptImage1: Price = {
  perImage: { low: 0.011, medium: 0.042, high: 0.167, auto: 0.042, "*": 0.167 },
  referencePixels: megapixel,
  tokens: { input: 10, output: 40 },
};

/** Built-in models' prices by model id. Upstreams declare theirs in configuration (`price_per_image_usd`). */
export const prices: Readonly<Record<string, Price>> = {
  "gpt-image-2": gptImage2,
  // No published rates found for the 2.5 and 2.6 families (December 2026): estimated at gpt-image-2's, so budgets
  // still count them. Correct these when OpenAI's pricing page lists them.
  "gpt-image-2.5-flare": gptImage2,
  "gpt-image-2.5-sunburst": gptImage2,
  "gpt-image-2.6-flare": gptImage2,
  "gpt-image-2.6-sunburst": gptImage2,
  "gpt-image-1.5": gptImage1,
  "gpt-image-1": gptImage1,
  "gpt-image-1-mini": {
    perImage: { low: 0.005, medium: 0.011, high: 0.036, auto: 0.011, "*": 0.036 },
    referencePixels: megapixel,
    tokens: { input: 2.5, output: 8 },
  },
  "dall-e-3": { perImage: { standard: 0.04, hd: 0.08, "*": 0.04 } },
  "dall-e-2": { perImage: { "*": 0.02 } },
  // Bedrock, per image (on-demand, us-east-1/us-west-2).
  "stability.stable-image-core-v1:1": { perImage: { "*": 0.04 } },
  "stability.stable-image-ultra-v1:1": { perImage: { "*": 0.14 } },
  "stability.sd3-5-large-v1:0": { perImage: { "*": 0.08 } },
  "stability.stable-image-inpaint-v1:0": { perImage: { "*": 0.04 } },
  "stability.stable-image-remove-background-v1:0": { perImage: { "*": 0.07 } },
  placeholder: { perImage: { "*": 0 } },
};

/** A model's price: its own (an upstream's, from configuration), else the table's; an alias costs what it names. */
export function priceOf(
  model: Pick<ModelSpec, "id"> & { price?: Price | undefined; aliasOf?: string | undefined },
): Price | undefined {
  return model.price ?? prices[model.id] ?? (model.aliasOf === undefined ? undefined : prices[model.aliasOf]);
}

/**
 * What a result made by `provider` with `model` costs: the model's price when its own provider made it, else what
 * the provider that stood in charges (the offline placeholder standing in for an OpenAI model costs nothing).
 */
export function priceFor(
  model: Pick<ModelSpec, "id" | "provider"> & { price?: Price | undefined; aliasOf?: string | undefined },
  provider: string,
  tier: PriceTier = "interactive",
): Price | undefined {
  const price = provider === model.provider ? priceOf(model) : prices[provider];
  // A model with no batch price is charged its synchronous one: never under-counted.
  return tier === "batch" ? (price?.batch ?? price) : price;
}

/** Micro-dollars: costs are summed as integers, so totals never drift. */
export const toMicroUsd = (usd: number) => Math.round(usd * 1_000_000);
export const fromMicroUsd = (micro: number) => micro / 1_000_000;

/**
 * The estimated cost of a result in micro-USD: from the provider's token usage where it reported some and the
 * model is token-priced, else per image (by quality, scaled by area where the price is). Undefined when the
 * model has no price.
 */
export function estimateCostMicroUsd(
  price: Price | undefined,
  images: readonly Dimensions[],
  quality: string | undefined,
  usage?: TokenUsage | undefined,
): number | undefined {
  if (!price) return undefined;
  if (usage && price.tokens) {
    return toMicroUsd(
      (usage.inputTokens * price.tokens.input + usage.outputTokens * price.tokens.output) / 1e6,
    );
  }
  const each = price.perImage[quality ?? "auto"] ?? price.perImage["*"] ?? 0;
  const reference = price.referencePixels;
  return images.reduce(
    (sum, d) => sum + toMicroUsd(reference ? (each * d.width * d.height) / reference : each),
    0,
  );
}
