// What each model can do, as data. OpenAI retires models often; adding or retiring one is an edit here.

export type Operation = "generate";
export type ImageFormat = "png" | "jpeg" | "webp";

export type SizeRule =
  /** A fixed menu of sizes. */
  | { kind: "list"; values: readonly string[] }
  /** Any WxH within bounds (gpt-image-2 style). */
  | {
      kind: "range";
      multipleOf: number;
      minPixels: number;
      maxPixels: number;
      maxEdge: number;
      /** Longest side over shortest side. */
      maxAspect: number;
    };

export interface ModelSpec {
  id: string;
  provider: string;
  operations: readonly Operation[];
  sizes: SizeRule;
  /** What `size: "auto"` (or no size) becomes when the provider needs a concrete one. */
  defaultSize: string;
  /** Images per provider call; larger `n` is split across calls. */
  maxImagesPerCall: number;
  qualities: readonly string[];
  styles: readonly string[];
  /** Formats the provider encodes itself; others are transcoded by the worker. */
  outputFormats: readonly ImageFormat[];
  transparentBackground: boolean;
  /** ISO date after which the provider refuses the model. */
  shutdownOn?: string;
  replacement?: string;
}

const gptImage2Sizes: SizeRule = {
  kind: "range",
  multipleOf: 16,
  minPixels: 655_360,
  maxPixels: 8_294_400,
  maxEdge: 3840,
  maxAspect: 3,
};

const gptImage1Sizes: SizeRule = { kind: "list", values: ["1024x1024", "1536x1024", "1024x1536"] };

const gptImage = {
  provider: "openai",
  operations: ["generate"],
  defaultSize: "1024x1024",
  maxImagesPerCall: 10,
  qualities: ["auto", "low", "medium", "high"],
  styles: [],
  outputFormats: ["png", "jpeg", "webp"],
  transparentBackground: true,
} as const satisfies Omit<ModelSpec, "id" | "sizes">;

export const catalog: readonly ModelSpec[] = [
  { ...gptImage, id: "gpt-image-2", sizes: gptImage2Sizes },
  {
    ...gptImage,
    id: "gpt-image-1.5",
    sizes: gptImage1Sizes,
    shutdownOn: "2026-12-01",
    replacement: "gpt-image-2",
  },
  {
    ...gptImage,
    id: "gpt-image-1-mini",
    sizes: gptImage1Sizes,
    shutdownOn: "2026-12-01",
    replacement: "gpt-image-2",
  },
  {
    ...gptImage,
    id: "gpt-image-1",
    sizes: gptImage1Sizes,
    shutdownOn: "2026-10-23",
    replacement: "gpt-image-2",
  },
  {
    ...gptImage,
    id: "dall-e-3",
    sizes: { kind: "list", values: ["1024x1024", "1792x1024", "1024x1792"] },
    maxImagesPerCall: 1,
    qualities: ["standard", "hd"],
    styles: ["vivid", "natural"],
    transparentBackground: false,
    shutdownOn: "2026-05-12",
    replacement: "gpt-image-2",
  },
  {
    ...gptImage,
    id: "dall-e-2",
    sizes: { kind: "list", values: ["256x256", "512x512", "1024x1024"] },
    qualities: ["standard"],
    transparentBackground: false,
    shutdownOn: "2026-05-12",
    replacement: "gpt-image-2",
  },
  {
    id: "placeholder",
    provider: "placeholder",
    operations: ["generate"],
    sizes: {
      kind: "range",
      multipleOf: 1,
      minPixels: 64 * 64,
      maxPixels: 4096 * 4096,
      maxEdge: 4096,
      maxAspect: 8,
    },
    defaultSize: "1024x1024",
    maxImagesPerCall: 10,
    qualities: ["auto", "low", "medium", "high", "standard", "hd"],
    styles: ["vivid", "natural"],
    outputFormats: ["png", "jpeg", "webp"],
    transparentBackground: true,
  },
];

export interface Dimensions {
  width: number;
  height: number;
}

export function parseSize(size: string): Dimensions | undefined {
  const m = /^(\d{1,5})x(\d{1,5})$/.exec(size);
  if (!m) return undefined;
  return { width: Number(m[1]), height: Number(m[2]) };
}

/** Returns why `size` does not suit the model, or undefined when it does. */
export function sizeProblem(model: ModelSpec, size: string): string | undefined {
  if (size === "auto") return undefined;
  const rule = model.sizes;
  if (rule.kind === "list") {
    return rule.values.includes(size)
      ? undefined
      : `${model.id} supports sizes ${[...rule.values, "auto"].join(", ")}`;
  }
  const d = parseSize(size);
  if (!d || d.width === 0 || d.height === 0) return "size must be 'auto' or WIDTHxHEIGHT, e.g. 1024x1024";
  const bounds = `${model.id} needs both sides multiples of ${rule.multipleOf}, at most ${rule.maxEdge} px per side, ${rule.minPixels.toLocaleString("en")} to ${rule.maxPixels.toLocaleString("en")} pixels, and an aspect ratio within ${rule.maxAspect}:1`;
  const pixels = d.width * d.height;
  const aspect = Math.max(d.width, d.height) / Math.min(d.width, d.height);
  const ok =
    d.width % rule.multipleOf === 0 &&
    d.height % rule.multipleOf === 0 &&
    Math.max(d.width, d.height) <= rule.maxEdge &&
    pixels >= rule.minPixels &&
    pixels <= rule.maxPixels &&
    aspect <= rule.maxAspect;
  return ok ? undefined : bounds;
}

export function isShutDown(model: ModelSpec, now: Date): boolean {
  return model.shutdownOn !== undefined && now.toISOString().slice(0, 10) >= model.shutdownOn;
}
