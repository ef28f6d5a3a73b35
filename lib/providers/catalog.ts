// What each model can do, as data. OpenAI retires models often; adding or retiring one is an edit here.

export const operations = ["generate", "edit", "variation", "outpaint"] as const;
export type Operation = (typeof operations)[number];
export type ImageFormat = "png" | "jpeg" | "webp";

export const aspectRatios = ["1:1", "2:3", "3:2", "16:9", "9:16", "4:5", "5:4"] as const;
export type AspectRatio = (typeof aspectRatios)[number];

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

/** What input images must look like before they reach the provider; the API conforms them with sharp. */
export interface InputRule {
  /** Pad to a square canvas (legacy models: "square PNG"). The padding is transparent, so it is edited too. */
  square: boolean;
  /** Larger inputs are scaled down to fit: the provider would scale them anyway, and uploads stay small. */
  maxEdge: number;
  maxPixels: number;
  /** Per encoded PNG image, and per mask. */
  maxBytes: number;
  maskMaxBytes: number;
}

export interface EditSpec {
  /** Images per provider call (`image[]`); the first is the one edited, the rest are references. */
  maxImages: number;
  /** Whether the provider takes a mask. Without one, masks are refused up front. */
  mask: boolean;
  /** Accepted `input_fidelity` values; empty when the model takes none. */
  inputFidelity: readonly string[];
  input: InputRule;
  /** A variation from the provider's own endpoint, or an edit asked to vary the image. */
  variations: "native" | "edit";
}

export interface ModelSpec {
  id: string;
  provider: string;
  /** What the service offers with this model; variation and outpaint are built on `edit`. */
  operations: readonly Operation[];
  /** Present when the model can edit. */
  edit?: EditSpec;
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

const mib = 1024 * 1024;

const gptImageEdit: EditSpec = {
  maxImages: 16,
  mask: true,
  inputFidelity: ["low", "high"],
  input: { square: false, maxEdge: 2048, maxPixels: 2048 * 2048, maxBytes: 50 * mib, maskMaxBytes: 4 * mib },
  variations: "edit",
};

const gptImage = {
  provider: "openai",
  operations: ["generate", "edit", "variation", "outpaint"],
  defaultSize: "1024x1024",
  maxImagesPerCall: 10,
  qualities: ["auto", "low", "medium", "high"],
  styles: [],
  outputFormats: ["png", "jpeg", "webp"],
  transparentBackground: true,
} as const satisfies Omit<ModelSpec, "id" | "sizes">;

const generateOnly = ["generate"] as const;

export const catalog: readonly ModelSpec[] = [
  {
    ...gptImage,
    id: "gpt-image-2",
    sizes: gptImage2Sizes,
    // gpt-image-2 takes no input_fidelity, and its outputs go up to 3840 px.
    edit: {
      ...gptImageEdit,
      inputFidelity: [],
      input: { ...gptImageEdit.input, maxEdge: 3840, maxPixels: 8_294_400 },
    },
  },
  {
    ...gptImage,
    id: "gpt-image-1.5",
    sizes: gptImage1Sizes,
    edit: gptImageEdit,
    shutdownOn: "2026-12-01",
    replacement: "gpt-image-2",
  },
  {
    ...gptImage,
    id: "gpt-image-1-mini",
    sizes: gptImage1Sizes,
    edit: { ...gptImageEdit, inputFidelity: ["low"] },
    shutdownOn: "2026-12-01",
    replacement: "gpt-image-2",
  },
  {
    ...gptImage,
    id: "gpt-image-1",
    sizes: gptImage1Sizes,
    edit: gptImageEdit,
    shutdownOn: "2026-10-23",
    replacement: "gpt-image-2",
  },
  {
    ...gptImage,
    id: "dall-e-3",
    operations: generateOnly,
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
    // The legacy rules: one square PNG under 4 MB, and a native variations endpoint.
    edit: {
      maxImages: 1,
      mask: true,
      inputFidelity: [],
      input: {
        square: true,
        maxEdge: 1024,
        maxPixels: 1024 * 1024,
        maxBytes: 4 * mib,
        maskMaxBytes: 4 * mib,
      },
      variations: "native",
    },
    qualities: ["standard"],
    transparentBackground: false,
    shutdownOn: "2026-05-12",
    replacement: "gpt-image-2",
  },
  {
    id: "placeholder",
    provider: "placeholder",
    operations: ["generate", "edit", "variation", "outpaint"],
    edit: {
      maxImages: 16,
      mask: true,
      inputFidelity: ["low", "high"],
      input: {
        square: false,
        maxEdge: 4096,
        maxPixels: 4096 * 4096,
        maxBytes: 50 * mib,
        maskMaxBytes: 4 * mib,
      },
      variations: "native",
    },
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

/**
 * The supported size nearest to `want`: the same orientation and closest aspect, near the same area.
 * A list rule picks the entry with the closest aspect ratio; a range rule keeps the aspect (clamped to the
 * model's limit) and rounds to its multiple within its pixel and edge bounds.
 */
export function nearestSize(model: ModelSpec, want: Dimensions): Dimensions {
  const aspect = want.width / want.height;
  const rule = model.sizes;
  if (rule.kind === "list") {
    const distance = (d: Dimensions) => [
      Math.abs(Math.log(d.width / d.height / aspect)),
      Math.abs(Math.log((d.width * d.height) / (want.width * want.height))),
    ];
    const options = rule.values.map((v) => parseSize(v) as Dimensions);
    return options.reduce((best, d) => {
      const [a, b] = distance(d) as [number, number];
      const [bestA, bestB] = distance(best) as [number, number];
      return a < bestA - 1e-9 || (Math.abs(a - bestA) <= 1e-9 && b < bestB) ? d : best;
    });
  }
  const a = Math.min(rule.maxAspect, Math.max(1 / rule.maxAspect, aspect));
  const area = Math.min(
    rule.maxPixels,
    Math.max(rule.minPixels, want.width * want.height),
    (rule.maxEdge * rule.maxEdge) / Math.max(a, 1 / a),
  );
  const m = rule.multipleOf;
  const w = Math.sqrt(area * a) / m;
  const h = Math.sqrt(area / a) / m;
  // Rounding each side up or down: of the four, the valid one closest in aspect, then in area.
  const candidates = [Math.floor(w), Math.ceil(w)].flatMap((cw) =>
    [Math.floor(h), Math.ceil(h)].map((ch) => ({ width: Math.max(1, cw) * m, height: Math.max(1, ch) * m })),
  );
  const score = (d: Dimensions) =>
    Math.abs(Math.log(d.width / d.height / a)) * 10 + Math.abs(Math.log((d.width * d.height) / area));
  const valid = candidates.filter((d) => !sizeProblem(model, `${d.width}x${d.height}`));
  const pick = (valid.length > 0 ? valid : candidates).sort((x, y) => score(x) - score(y))[0] as Dimensions;
  return pick;
}

/** `aspect_ratio`: the model's supported size for that ratio, near its default size's area. */
export function sizeForAspectRatio(model: ModelSpec, ratio: AspectRatio): string {
  const [w, h] = ratio.split(":").map(Number) as [number, number];
  const base = parseSize(model.defaultSize) ?? { width: 1024, height: 1024 };
  const area = base.width * base.height;
  const d = nearestSize(model, { width: Math.sqrt((area * w) / h), height: Math.sqrt((area * h) / w) });
  return `${d.width}x${d.height}`;
}
