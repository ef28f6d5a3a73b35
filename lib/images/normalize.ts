import type { Metadata, SharpOptions } from "sharp";
import { loadSharp } from "./sharp.ts";
import type { Dimensions, InputRule } from "./types.ts";
import { maxInputPixels, type SniffedFormat, sniffFormat } from "./types.ts";

// Input images, made to fit what a model takes: users send what they have (PNG, JPEG, WebP, GIF, AVIF, any
// size, any orientation), and the service conforms it instead of demanding "a square PNG under 4 MB".

export type InputProblem = "format" | "pixels" | "corrupt" | "too_detailed" | "mask_size" | "mask_empty";

/** Bad input image. The message completes "the image …" (or "the mask …"); callers name the parameter. */
export class ImageInputError extends Error {
  override name = "ImageInputError";
  readonly problem: InputProblem;
  constructor(problem: InputProblem, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.problem = problem;
  }
}

/** Every decode: refuse pixel bombs from the header, before decoding; first frame only; stop on damage. */
export const readOptions: SharpOptions = { limitInputPixels: maxInputPixels, pages: 1, failOn: "error" };

export interface Inspected extends Dimensions {
  format: SniffedFormat;
  hasAlpha: boolean;
}

/** Header-only look at an untrusted image: its real type (from bytes) and its size once oriented. */
export async function inspectImage(bytes: Buffer): Promise<Inspected> {
  const format = sniffFormat(bytes);
  if (!format) throw new ImageInputError("format", "is not a PNG, JPEG, WebP, GIF or AVIF image");
  const sharp = await loadSharp();
  let meta: Metadata;
  try {
    meta = await sharp(bytes, readOptions).metadata();
  } catch (cause) {
    if (/pixel limit/i.test(String((cause as Error).message))) {
      throw new ImageInputError("pixels", `has more than ${maxInputPixels.toLocaleString("en")} pixels`, {
        cause,
      });
    }
    throw new ImageInputError("corrupt", `could not be read as ${format.toUpperCase()}`, { cause });
  }
  return {
    format,
    width: meta.autoOrient?.width ?? meta.width,
    height: meta.autoOrient?.height ?? meta.height,
    hasAlpha: meta.hasAlpha === true,
  };
}

export interface Placement extends Dimensions {
  left: number;
  top: number;
}

export interface NormalizedImage extends Dimensions {
  png: Buffer;
  /** The input's own size, oriented, before any scaling. */
  original: Dimensions;
  /** Where the input's pixels sit in `png`; square rules pad around them. */
  content: Placement;
}

/** Scale to fit the rule's edge and pixel bounds (never up), then centre on a square canvas if it wants one. */
export function inputLayout(
  original: Dimensions,
  rule: InputRule,
  shrink = 1,
): Placement & { canvas: Dimensions } {
  const scale =
    Math.min(
      1,
      rule.maxEdge / Math.max(original.width, original.height),
      Math.sqrt(rule.maxPixels / (original.width * original.height)),
    ) * shrink;
  const width = Math.max(1, Math.round(original.width * scale));
  const height = Math.max(1, Math.round(original.height * scale));
  const side = Math.max(width, height);
  const canvas = rule.square ? { width: side, height: side } : { width, height };
  return {
    width,
    height,
    left: Math.floor((canvas.width - width) / 2),
    top: Math.floor((canvas.height - height) / 2),
    canvas,
  };
}

async function encodePng(bytes: Buffer, layout: ReturnType<typeof inputLayout>, original: Dimensions) {
  // One pipeline: orient, scale, pad, encode. Metadata (EXIF, GPS, ICC names) is dropped by not keeping it.
  const sharp = await loadSharp();
  let p = sharp(bytes, readOptions).autoOrient();
  if (layout.width !== original.width || layout.height !== original.height) {
    p = p.resize(layout.width, layout.height, { fit: "fill" });
  }
  if (layout.canvas.width !== layout.width || layout.canvas.height !== layout.height) {
    p = p.ensureAlpha().extend({
      left: layout.left,
      top: layout.top,
      right: layout.canvas.width - layout.width - layout.left,
      bottom: layout.canvas.height - layout.height - layout.top,
      background: { r: 0, g: 0, b: 0, alpha: 0 },
    });
  }
  return p.png().toBuffer();
}

/** Any supported image → a PNG that meets `rule`: oriented, stripped, scaled down, padded, under its byte cap. */
export async function normalizeImage(bytes: Buffer, rule: InputRule): Promise<NormalizedImage> {
  const original = await inspectImage(bytes);
  let shrink = 1;
  for (let attempt = 0; attempt < 4; attempt++) {
    const layout = inputLayout(original, rule, shrink);
    let png: Buffer;
    try {
      png = await encodePng(bytes, layout, original);
    } catch (cause) {
      throw new ImageInputError("corrupt", `could not be decoded as ${original.format.toUpperCase()}`, {
        cause,
      });
    }
    if (png.length <= rule.maxBytes) {
      const { canvas, ...content } = layout;
      return { png, ...canvas, original: { width: original.width, height: original.height }, content };
    }
    // Too many bytes for the provider: shrink by the overshoot, with a margin, from the original again.
    shrink *= Math.sqrt(rule.maxBytes / png.length) * 0.9;
  }
  throw new ImageInputError(
    "too_detailed",
    `does not fit in a ${Math.round(rule.maxBytes / 1024 / 1024)} MB PNG even when scaled down`,
  );
}
