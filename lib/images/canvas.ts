import { type Placement, readOptions } from "./normalize.ts";
import { loadSharp } from "./sharp.ts";
import type { Dimensions } from "./types.ts";

// Outpainting: the image, centred on a larger transparent canvas, and a mask that asks for the border only.

export interface OutpaintLayout {
  canvas: Dimensions;
  /** Where the original sits on the canvas, scaled if the model needed another canvas size. */
  placement: Placement;
}

/**
 * Grows the canvas by `border` (a fraction of each side) on every side, then lets `fitCanvas` move it to a size the
 * model supports; the original keeps its aspect ratio and is centred in the same proportion.
 */
export function outpaintLayout(
  source: Dimensions,
  border: number,
  fitCanvas: (want: Dimensions) => Dimensions,
): OutpaintLayout {
  const want = {
    width: Math.round(source.width * (1 + 2 * border)),
    height: Math.round(source.height * (1 + 2 * border)),
  };
  const canvas = fitCanvas(want);
  const scale = Math.min(canvas.width / want.width, canvas.height / want.height);
  const width = Math.max(1, Math.min(canvas.width, Math.round(source.width * scale)));
  const height = Math.max(1, Math.min(canvas.height, Math.round(source.height * scale)));
  return {
    canvas,
    placement: {
      left: Math.floor((canvas.width - width) / 2),
      top: Math.floor((canvas.height - height) / 2),
      width,
      height,
    },
  };
}

/** The enlarged canvas (transparent border) and its mask (alpha 0 on the border, 255 over the original). */
export async function outpaintCanvas(
  png: Buffer,
  layout: OutpaintLayout,
): Promise<{ image: Buffer; mask: Buffer }> {
  const { canvas, placement: p } = layout;
  const sharp = await loadSharp();
  const border = {
    left: p.left,
    top: p.top,
    right: canvas.width - p.width - p.left,
    bottom: canvas.height - p.height - p.top,
    background: { r: 0, g: 0, b: 0, alpha: 0 },
  };
  // Independent, so encoded concurrently; the mask (the canonical form: black, opaque over the original) is made
  // by libvips, with no per-pixel loop in JS and no raw RGBA buffer.
  const [image, mask] = await Promise.all([
    sharp(png, readOptions)
      .resize(p.width, p.height, { fit: "fill" })
      .ensureAlpha()
      .extend(border)
      .png()
      .toBuffer(),
    sharp({ create: { width: p.width, height: p.height, channels: 4, background: "#000000ff" } })
      .extend(border)
      .png({ compressionLevel: 9 })
      .toBuffer(),
  ]);
  return { image, mask };
}
