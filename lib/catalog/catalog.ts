import type { Dimensions, ImageFormat, InputRule } from "../images/types.ts";

/** What a model's images cost (lib/catalog/prices.ts has the built-in models' prices). */
export interface Price {
  /** USD per output image, by quality; "*" for any quality not listed. */
  perImage: Readonly<Record<string, number>>;
  /** Per-image prices are for this many pixels and scale with area (token-billed models); absent: flat. */
  referencePixels?: number;
  /** USD per million tokens, used instead of per-image prices when the provider reports `usage`. */
  tokens?: { input: number; output: number };
  /** The price through the provider's Batch API (the batch lane), where it has one. */
  batch?: Omit<Price, "batch">;
}

export type { Dimensions, ImageFormat, InputRule };

// What each model can do, as data. OpenAI retires models often; adding or retiring one is an edit here.

export const operations = ["generate", "edit", "variation", "outpaint", "remove_background"] as const;
export type Operation = (typeof operations)[number];

export const aspectRatios = ["1:1", "2:3", "3:2", "16:9", "9:16", "4:5", "5:4"] as const;
export type AspectRatio = (typeof aspectRatios)[number];

export type SizeRule =
  /** A fixed menu of sizes. */
  | { kind: "list"; values: readonly string[] }
  /**
   * Models that take an aspect ratio, not a size (Stability): any WxH is accepted and becomes the ratio nearest
   * to it, whose own size is what the model makes.
   */
  | { kind: "aspect"; ratios: readonly { ratio: string; size: string }[] }
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
  /** The id the provider knows the model by, when it differs from ours (a renamed upstream model). */
  upstreamId?: string;
  /** How the provider calls this model, for providers with several request shapes (Bedrock). */
  invocation?: string;
  /** The model's price where configuration gives it (upstream models); else lib/catalog/prices.ts. */
  price?: Price;
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
  /**
   * The longest one provider call is expected to take (its largest size at its highest quality), in seconds. The
   * slowest model a deployment serves sizes the provider timeout, the worker's timeout and lease, and the jobs
   * queue's visibility (lib/providers/timeouts.ts, docs/deploy.md).
   */
  slowestCallSeconds: number;
  /** ISO date after which the provider refuses the model. */
  shutdownOn?: string;
  replacement?: string;
  /**
   * Another name of the model `aliasOf` names (a dated snapshot, or a moving alias such as chatgpt-image-latest):
   * its capabilities and price, and sent to the provider under the name the client used.
   */
  aliasOf?: string;
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

/** The widest bounds we take, any WxH from 64 to 4096 px a side: the placeholder's, and an upstream's that lists no sizes. */
export const anySize: SizeRule = {
  kind: "range",
  multipleOf: 1,
  minPixels: 64 * 64,
  maxPixels: 4096 * 4096,
  maxEdge: 4096,
  maxAspect: 8,
};

/** The largest edit inputs we take: the placeholder's, and an upstream's, whose own limits we do not know. */
export const anyEditInput: InputRule = {
  square: false,
  maxEdge: 4096,
  maxPixels: 4096 * 4096,
  maxBytes: 50 * mib,
  maskMaxBytes: 4 * mib,
};

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
  qualities: ["auto", "low", "medium", "high"] as readonly string[],
  styles: [],
  outputFormats: ["png", "jpeg", "webp"],
  transparentBackground: true,
} as const satisfies Omit<ModelSpec, "id" | "sizes" | "slowestCallSeconds">;

const generateOnly = ["generate"] as const;

/**
 * gpt-image-2's edits. Its outputs go up to 3840 px, but what it reads of an input is far less: OpenAI publishes no
 * figure, and measured billing shows each edit input reduced to at most 1,536 patches of 32×32 px (about 1.57 MP;
 * community.openai.com, "OpenAI must document the input image pricing of gpt-image-2", June 2026). A 12 MP photo
 * is sent at that size, not as a 25 MB PNG the provider shrinks.
 */
const gptImage2Edit: EditSpec = {
  ...gptImageEdit,
  input: { ...gptImageEdit.input, maxEdge: 2048, maxPixels: 1536 * 32 * 32 },
};

/**
 * The gpt-image-2.5 and 2.6 families (September 2026): gpt-image-2's sizes and edits, and two qualities above
 * `high`. OpenAI's SDK (openai-node 7.x, `ImageModel`) lists these ids and says 2.5 takes `xhigh` and `max`;
 * third-party documentation (docs.apiyi.com, xmcp.dev) reports the same of 2.6-flare.
 */
const gptImage25 = {
  ...gptImage,
  sizes: gptImage2Sizes,
  edit: gptImage2Edit,
  qualities: [...gptImage.qualities, "xhigh", "max"],
  // No figure published: gpt-image-2's. Flare is reported up to 50% faster, but xhigh and max go past `high`.
  slowestCallSeconds: 235,
} as const satisfies Omit<ModelSpec, "id">;

const models: readonly ModelSpec[] = [
  {
    ...gptImage,
    id: "gpt-image-2",
    sizes: gptImage2Sizes,
    // About 235 s reported at high quality and 1536x1024 (help.apiyi.com, third-party); about 15 s at lower settings.
    slowestCallSeconds: 235,
    // input_fidelity: OpenAI's spec (InputFidelity) says gpt-image-1.5 "and later models" take it.
    edit: gptImage2Edit,
  },
  { ...gptImage25, id: "gpt-image-2.5-flare" },
  { ...gptImage25, id: "gpt-image-2.5-sunburst" },
  { ...gptImage25, id: "gpt-image-2.6-flare" },
  { ...gptImage25, id: "gpt-image-2.6-sunburst" },
  {
    ...gptImage,
    id: "gpt-image-1.5",
    sizes: gptImage1Sizes,
    slowestCallSeconds: 120,
    edit: gptImageEdit,
    shutdownOn: "2026-12-01",
    replacement: "gpt-image-2",
  },
  {
    ...gptImage,
    id: "gpt-image-1-mini",
    sizes: gptImage1Sizes,
    slowestCallSeconds: 60,
    edit: { ...gptImageEdit, inputFidelity: ["low"] },
    shutdownOn: "2026-12-01",
    replacement: "gpt-image-2",
  },
  {
    ...gptImage,
    id: "gpt-image-1",
    sizes: gptImage1Sizes,
    slowestCallSeconds: 120,
    edit: gptImageEdit,
    shutdownOn: "2026-10-23",
    replacement: "gpt-image-2",
  },
  {
    ...gptImage,
    id: "dall-e-3",
    operations: generateOnly,
    slowestCallSeconds: 60,
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
    slowestCallSeconds: 30,
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
    // Drawn locally with sharp: a 4096 px image in well under a second.
    slowestCallSeconds: 5,
    operations: ["generate", "edit", "variation", "outpaint", "remove_background"],
    edit: {
      maxImages: 16,
      mask: true,
      inputFidelity: ["low", "high"],
      input: anyEditInput,
      variations: "native",
    },
    sizes: anySize,
    defaultSize: "1024x1024",
    maxImagesPerCall: 10,
    qualities: ["auto", "low", "medium", "high", "standard", "hd"],
    styles: ["vivid", "natural"],
    outputFormats: ["png", "jpeg", "webp"],
    transparentBackground: true,
  },
  ...bedrockModels(),
];

/**
 * Other names OpenAI answers to, as data: dated snapshots (OpenAI's spec lists gpt-image-2-2026-04-21; its SDK
 * the 2026-09-08 snapshots of 2.5) and moving aliases. chatgpt-image-latest "follows the same input constraints
 * as GPT image models" (openai-node): it is served with gpt-image-2's capabilities.
 */
const aliases: readonly { id: string; of: string }[] = [
  { id: "gpt-image-2-2026-04-21", of: "gpt-image-2" },
  { id: "gpt-image-2.5-flare-2026-09-08", of: "gpt-image-2.5-flare" },
  { id: "gpt-image-2.5-sunburst-2026-09-08", of: "gpt-image-2.5-sunburst" },
  { id: "chatgpt-image-latest", of: "gpt-image-2" },
];

function aliasSpec(alias: { id: string; of: string }): ModelSpec {
  const target = models.find((m) => m.id === alias.of);
  if (!target || target.aliasOf) throw new Error(`The alias ${alias.id} names no catalogued model.`);
  return { ...target, id: alias.id, upstreamId: alias.id, aliasOf: target.id };
}

/** Every model the service knows, aliases included: a request, the model list and prices resolve through it. */
export const catalog: readonly ModelSpec[] = [...models, ...aliases.map(aliasSpec)];

// Amazon Bedrock: Stability's models (Nova Canvas and Titan Image reached end of life in 2026). Each call makes
// one image; `n` becomes that many calls. Text-to-image takes an aspect ratio, not a size.
function bedrockModels(): ModelSpec[] {
  const stabilityRatios: SizeRule = {
    kind: "aspect",
    ratios: [
      { ratio: "1:1", size: "1024x1024" },
      { ratio: "16:9", size: "1344x768" },
      { ratio: "21:9", size: "1536x640" },
      { ratio: "2:3", size: "832x1216" },
      { ratio: "3:2", size: "1216x832" },
      { ratio: "4:5", size: "896x1088" },
      { ratio: "5:4", size: "1088x896" },
      { ratio: "9:16", size: "768x1344" },
      { ratio: "9:21", size: "640x1536" },
    ],
  };
  // Image Services return the input's size; Stability takes 64 px to 9.4 M pixels per side and image.
  const asInput: SizeRule = {
    kind: "range",
    multipleOf: 1,
    minPixels: 4096,
    maxPixels: 9_437_184,
    maxEdge: 8192,
    maxAspect: 2.5,
  };
  const oneImage: EditSpec = {
    maxImages: 1,
    mask: true,
    inputFidelity: [],
    // InvokeModel bodies are JSON with base64 images: keep each input well under the payload limit.
    input: { square: false, maxEdge: 3072, maxPixels: 9_437_184, maxBytes: 10 * mib, maskMaxBytes: 4 * mib },
    variations: "edit",
  };
  const base = {
    provider: "bedrock",
    defaultSize: "1024x1024",
    maxImagesPerCall: 1,
    qualities: ["auto"],
    styles: [],
    outputFormats: ["png", "jpeg", "webp"],
    transparentBackground: false,
  } as const satisfies Omit<ModelSpec, "id" | "sizes" | "operations" | "slowestCallSeconds">;
  // No published latencies: Stability's own API answers in seconds; these leave room for Bedrock's queueing.
  const textToImage = (id: string, slowestCallSeconds: number): ModelSpec => ({
    ...base,
    id,
    slowestCallSeconds,
    invocation: "stability-text-to-image",
    operations: generateOnly,
    sizes: stabilityRatios,
  });
  return [
    textToImage("stability.stable-image-core-v1:1", 30),
    textToImage("stability.stable-image-ultra-v1:1", 60),
    textToImage("stability.sd3-5-large-v1:0", 60),
    {
      ...base,
      id: "stability.stable-image-inpaint-v1:0",
      invocation: "stability-inpaint",
      slowestCallSeconds: 60,
      // Outpainting is an inpaint of the border the service adds around the image.
      operations: ["edit", "outpaint"],
      edit: oneImage,
      sizes: asInput,
    },
    {
      ...base,
      id: "stability.stable-image-remove-background-v1:0",
      invocation: "stability-remove-background",
      slowestCallSeconds: 30,
      operations: ["remove_background"],
      edit: { ...oneImage, mask: false },
      sizes: asInput,
      outputFormats: ["png", "webp"],
      transparentBackground: true,
    },
  ];
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
  if (rule.kind === "aspect") {
    const d = parseSize(size);
    return d && d.width > 0 && d.height > 0
      ? undefined
      : `size must be 'auto' or WIDTHxHEIGHT; ${model.id} makes the aspect ratio nearest to it (${rule.ratios.map((r) => r.ratio).join(", ")})`;
  }
  if (rule.kind === "list") {
    return rule.values.includes(size)
      ? undefined
      : `${model.id} supports sizes ${[...rule.values, "auto"].join(", ")}`;
  }
  const d = parseSize(size);
  if (!d || d.width === 0 || d.height === 0) return "size must be 'auto' or WIDTHxHEIGHT, e.g. 1024x1024";
  const pixels = d.width * d.height;
  const aspect = Math.max(d.width, d.height) / Math.min(d.width, d.height);
  const ok =
    d.width % rule.multipleOf === 0 &&
    d.height % rule.multipleOf === 0 &&
    Math.max(d.width, d.height) <= rule.maxEdge &&
    pixels >= rule.minPixels &&
    pixels <= rule.maxPixels &&
    aspect <= rule.maxAspect;
  // Built only when refused: toLocaleString is slow, and nearestSize asks about many sizes.
  return ok
    ? undefined
    : `${model.id} needs both sides multiples of ${rule.multipleOf}, at most ${rule.maxEdge} px per side, ${rule.minPixels.toLocaleString("en")} to ${rule.maxPixels.toLocaleString("en")} pixels, and an aspect ratio within ${rule.maxAspect}:1`;
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
  if (rule.kind === "aspect") return parseSize(nearestRatio(rule.ratios, want).size) as Dimensions;
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

/** The entry whose ratio is nearest to `want`'s (by log ratio, so 2:1 and 1:2 are equally far from 1:1). */
export function nearestRatio<R extends { ratio: string }>(ratios: readonly R[], want: Dimensions): R {
  const target = Math.log(want.width / want.height);
  const distance = (r: R) => {
    const [w, h] = r.ratio.split(":").map(Number) as [number, number];
    return Math.abs(Math.log(w / h) - target);
  };
  return ratios.reduce((best, r) => (distance(r) < distance(best) - 1e-9 ? r : best));
}

/** `aspect_ratio`: the model's supported size for that ratio, near its default size's area. */
export function sizeForAspectRatio(model: ModelSpec, ratio: AspectRatio): string {
  const [w, h] = ratio.split(":").map(Number) as [number, number];
  const base = parseSize(model.defaultSize) ?? { width: 1024, height: 1024 };
  const area = base.width * base.height;
  const d = nearestSize(model, { width: Math.sqrt((area * w) / h), height: Math.sqrt((area * h) / w) });
  return `${d.width}x${d.height}`;
}
