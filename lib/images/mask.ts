import { ImageInputError, inspectImage, type NormalizedImage, readOptions } from "./normalize.ts";
import { loadSharp } from "./sharp.ts";
import type { Dimensions, InputRule } from "./types.ts";

// Masks as OpenAI defines them: a PNG the size of the image whose alpha says what to keep (255) and what to
// change (0). Masks without alpha are read as black-and-white, white marking the area to change (the
// convention of Stability and most inpainting tools), so either kind works.

/** Encodes one alpha plane as the canonical mask: black RGB, that alpha. */
export async function maskPng(alpha: Uint8Array, size: Dimensions): Promise<Buffer> {
  const sharp = await loadSharp();
  const rgba = Buffer.alloc(size.width * size.height * 4);
  for (let i = 0; i < alpha.length; i++) rgba[i * 4 + 3] = alpha[i] as number;
  return sharp(rgba, { raw: { width: size.width, height: size.height, channels: 4 } })
    .png({ compressionLevel: 9 })
    .toBuffer();
}

/** Reads a mask's alpha plane at `size`, scaled with `fit` as its image is, so the two stay aligned. */
export async function readAlpha(
  mask: Buffer,
  size: Dimensions,
  fit: "fill" | "cover" = "fill",
): Promise<Uint8Array> {
  const sharp = await loadSharp();
  const { data } = await sharp(mask, readOptions)
    .resize(size.width, size.height, { fit })
    .ensureAlpha()
    .extractChannel("alpha")
    .raw()
    .toBuffer({ resolveWithObject: true });
  return data;
}

/** Differs from `expected` by scale only: the same aspect ratio, up to a pixel of rounding. */
export function sameShape(actual: Dimensions, expected: Dimensions): boolean {
  const scaledHeight = (actual.height * expected.width) / actual.width;
  return Math.abs(scaledHeight - expected.height) <= Math.max(1, expected.width / actual.width);
}

/**
 * A user's mask, conformed to its normalised image: same orientation, scaled to it (when it differs by scale
 * only), padded as the image was padded (padding is edited), as an alpha mask under the rule's byte cap.
 */
export async function normalizeMask(bytes: Buffer, image: NormalizedImage, rule: InputRule): Promise<Buffer> {
  const info = await inspectImage(bytes);
  if (!sameShape(info, image.original)) {
    throw new ImageInputError(
      "mask_size",
      `is ${info.width}x${info.height} but the image is ${image.original.width}x${image.original.height}; a mask must be the image's size, or the same shape at another scale`,
    );
  }
  const { content } = image;
  const sharp = await loadSharp();
  const pipeline = sharp(bytes, readOptions)
    .autoOrient()
    .resize(content.width, content.height, { fit: "fill" });
  let plane: Buffer;
  try {
    const out = info.hasAlpha
      ? pipeline.ensureAlpha().extractChannel("alpha")
      : // White means "change this": invert the grey level into alpha.
        pipeline.greyscale().negate();
    plane = (await out.raw().toBuffer({ resolveWithObject: true })).data;
  } catch (cause) {
    throw new ImageInputError("corrupt", `could not be decoded as ${info.format.toUpperCase()}`, { cause });
  }
  const alpha = new Uint8Array(image.width * image.height); // padding stays 0: edited, as in the image
  let editable = image.width !== content.width || image.height !== content.height;
  for (let y = 0; y < content.height; y++) {
    for (let x = 0; x < content.width; x++) {
      const a = plane[y * content.width + x] as number;
      if (a < 255) editable = true;
      alpha[(y + content.top) * image.width + x + content.left] = a;
    }
  }
  if (!editable) {
    throw new ImageInputError(
      "mask_empty",
      "is fully opaque (or black), so nothing would change; transparent (or white) pixels mark what to edit",
    );
  }
  const png = await maskPng(alpha, image);
  if (png.length > rule.maskMaxBytes) {
    throw new ImageInputError(
      "too_detailed",
      `does not fit in a ${Math.round(rule.maskMaxBytes / 1024 / 1024)} MB PNG; use a simpler mask or a smaller image`,
    );
  }
  return png;
}

/** With no mask, the image's own transparency is the mask; undefined when it has none (a whole-image edit). */
export async function maskFromAlpha(png: Buffer): Promise<Buffer | undefined> {
  const sharp = await loadSharp();
  const { data, info } = await sharp(png, readOptions).raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 4) return undefined;
  const alpha = new Uint8Array(info.width * info.height);
  let transparent = false;
  for (let i = 0; i < alpha.length; i++) {
    const a = data[i * 4 + 3] as number;
    alpha[i] = a;
    if (a === 0) transparent = true;
  }
  return transparent ? maskPng(alpha, info) : undefined;
}

/**
 * OpenAI's alpha mask (alpha 0 = edit here) as the black-and-white mask Stability's models take (white = edit
 * here), at `size`. Partial alpha becomes grey, so soft edges stay soft. Without a mask, all white: the whole
 * image may change, as an OpenAI edit without a mask.
 */
export async function blackWhiteMask(mask: Buffer | undefined, size: Dimensions): Promise<Buffer> {
  const grey = Buffer.alloc(size.width * size.height, 255);
  if (mask) {
    const alpha = await readAlpha(mask, size, "cover");
    for (let i = 0; i < grey.length; i++) grey[i] = 255 - (alpha[i] as number);
  }
  const sharp = await loadSharp();
  return sharp(grey, { raw: { width: size.width, height: size.height, channels: 1 } })
    .toColourspace("b-w")
    .png({ compressionLevel: 9 })
    .toBuffer();
}
