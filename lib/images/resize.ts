import { type EncodeOptions, encode } from "./formats.ts";
import { loadSharp } from "./sharp.ts";
import { type Dimensions, maxInputPixels } from "./types.ts";

/**
 * A provider's image delivered at `size` (a job's `output_size`), encoded as `options` asks. It is scaled to cover
 * `size` and cropped to the centre, since the size a model makes is rarely the same shape to the pixel. `made` is
 * the size the provider returned, present when it differed and the image was resized.
 */
export async function deliverAt(
  bytes: Buffer,
  size: Dimensions,
  options: EncodeOptions,
): Promise<{ bytes: Buffer; made?: Dimensions }> {
  const sharp = await loadSharp();
  const image = sharp(bytes, { limitInputPixels: maxInputPixels });
  const meta = await image.metadata();
  const made = {
    width: meta.autoOrient?.width ?? meta.width,
    height: meta.autoOrient?.height ?? meta.height,
  };
  if (made.width === size.width && made.height === size.height) return { bytes };
  const resized = image.autoOrient().resize(size.width, size.height, { fit: "cover", position: "centre" });
  return { bytes: await encode(resized, options).toBuffer(), made };
}
