import { createHash } from "node:crypto";
import type { Sharp } from "sharp";
import { loadSharp } from "./sharp.ts";
import type { Dimensions, ImageFormat } from "./types.ts";
import { maxInputPixels, type SniffedFormat, sniffFormat } from "./types.ts";

export interface EncodeOptions {
  format: ImageFormat;
  /** 0-100, as OpenAI's output_compression: higher keeps more quality (jpeg, webp) or compresses harder (png). */
  compression?: number | undefined;
  keepAlpha: boolean;
}

/** Appends the one encode step to a pipeline; callers build one pipeline per image. */
export function encode(pipeline: Sharp, options: EncodeOptions): Sharp {
  const p =
    options.keepAlpha || options.format === "jpeg" ? pipeline : pipeline.flatten({ background: "#ffffff" });
  switch (options.format) {
    case "png":
      return p.png({
        compressionLevel: options.compression === undefined ? 6 : Math.round((options.compression / 100) * 9),
      });
    case "jpeg":
      return p
        .flatten({ background: "#ffffff" })
        .jpeg({ quality: options.compression ?? 90, mozjpeg: false });
    case "webp":
      return p.webp({ quality: options.compression ?? 90, alphaQuality: 100 });
  }
}

export interface StoredImageFacts extends Dimensions {
  format: SniffedFormat;
  bytes: number;
  sha256: string;
}

/** Header-only read: no pixel decode. */
export async function describeImage(bytes: Buffer): Promise<StoredImageFacts> {
  const format = sniffFormat(bytes);
  if (!format) throw new Error("not a recognised image");
  const sharp = await loadSharp();
  const meta = await sharp(bytes, { limitInputPixels: maxInputPixels }).metadata();
  return {
    format,
    width: meta.autoOrient?.width ?? meta.width,
    height: meta.autoOrient?.height ?? meta.height,
    bytes: bytes.length,
    sha256: createHash("sha256").update(bytes).digest("hex"),
  };
}

/** Re-encodes a provider's image when it is not already in the requested format. */
export async function conform(bytes: Buffer, options: EncodeOptions): Promise<Buffer> {
  if (sniffFormat(bytes) === options.format) return bytes;
  const sharp = await loadSharp();
  return encode(sharp(bytes, { limitInputPixels: maxInputPixels }), options).toBuffer();
}
