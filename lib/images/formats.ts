import { createHash } from "node:crypto";
import sharp, { type Sharp } from "sharp";
import type { Dimensions, ImageFormat } from "../providers/catalog.ts";

export type SniffedFormat = ImageFormat | "gif" | "avif";

export const contentTypes: Record<SniffedFormat, string> = {
  png: "image/png",
  jpeg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
  avif: "image/avif",
};

/** The real type, from magic bytes. Filenames and content-types are claims, not facts. */
export function sniffFormat(bytes: Uint8Array): SniffedFormat | undefined {
  const b = bytes;
  const ascii = (start: number, end: number) => String.fromCharCode(...b.subarray(start, end));
  if (b.length >= 8 && b[0] === 0x89 && ascii(1, 4) === "PNG" && b[4] === 0x0d && b[5] === 0x0a) return "png";
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (b.length >= 12 && ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "webp";
  if (b.length >= 6 && (ascii(0, 6) === "GIF87a" || ascii(0, 6) === "GIF89a")) return "gif";
  if (b.length >= 12 && ascii(4, 8) === "ftyp" && ["avif", "avis"].includes(ascii(8, 12))) return "avif";
  return undefined;
}

// Pixel cap for every decode: a 40-byte PNG can declare billions of pixels.
export const maxInputPixels = 50_000_000;

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
  return encode(sharp(bytes, { limitInputPixels: maxInputPixels }), options).toBuffer();
}
