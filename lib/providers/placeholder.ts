import { createHash } from "node:crypto";
import { setImmediate as nextTurn, setTimeout as sleep } from "node:timers/promises";
import sharp, { type Sharp } from "sharp";
import {
  type Dimensions,
  type ImageFormat,
  type ModelSpec,
  nearestSize,
  parseSize,
  sizeProblem,
} from "../catalog/catalog.ts";
import { encode } from "../images/formats.ts";
import { readAlpha } from "../images/mask.ts";
import { readOptions } from "../images/normalize.ts";
import type {
  EditCall,
  GenerateCall,
  ImageProvider,
  PartialImageOptions,
  ProviderImage,
  ProviderResult,
  RemoveBackgroundCall,
  VariationCall,
} from "../jobs/ports/provider.ts";

/**
 * Offline stand-in for a real model: deterministic, prompt-seeded abstract art of the requested size and
 * format, made with sharp. The same prompt and seed always give the same pixels. Edits paint only where the
 * mask is transparent, leaving every other pixel as it was; variations keep the image recognisable, with a
 * small shift of hue and tone and a faint seeded overlay. It makes only sizes the model it stands in for makes
 * (catalog data), so what works offline works with the real provider.
 */
export class PlaceholderProvider implements ImageProvider {
  readonly name = "placeholder";
  readonly #partialIntervalMs: number;

  /** `partialIntervalMs`: the pause before each partial image, and before the image itself, when previews are asked. */
  constructor(options: { partialIntervalMs?: number } = {}) {
    this.#partialIntervalMs = options.partialIntervalMs ?? 0;
  }

  async generate(call: GenerateCall): Promise<ProviderResult> {
    const size = call.size ?? (parseSize(call.model.defaultSize) as Dimensions);
    const images = await Promise.all(
      Array.from({ length: call.n }, async (_, i) => {
        const svg = renderSvg(
          `${call.model.id}\n${call.prompt}\n${call.seed}\n${i}`,
          size.width,
          size.height,
          {
            transparent: call.background === "transparent",
          },
        );
        const data = await encode(sharp(Buffer.from(svg)), {
          format: call.outputFormat,
          compression: call.outputCompression,
          keepAlpha: call.background === "transparent",
        }).toBuffer();
        return { data, revisedPrompt: call.prompt };
      }),
    );
    await this.#preview(call, images, size);
    return { images };
  }

  async edit(call: EditCall): Promise<ProviderResult> {
    const first = call.images[0] as Buffer;
    const size = call.size ?? madeFrom(call.model, await sizeOf(first));
    const base = await rgba(sharp(first, readOptions), size);
    // Scaled like the image ("cover"), so mask and image stay aligned at any requested size.
    const keep = call.mask ? await readAlpha(call.mask, size, "cover") : undefined;
    const transparent = call.background === "transparent";
    const images = await Promise.all(
      Array.from({ length: call.n }, async (_, i) => {
        const seed = `${call.model.id}\n${call.prompt}\n${call.seed}\n${i}`;
        // No mask and no transparency: the whole image is open to change, so restyle all of it.
        const pixels = keep
          ? await blend(base, await art(seed, size, transparent), keep)
          : await restyle(first, size, seed);
        return { data: await encodeRaw(pixels, size, call), revisedPrompt: call.prompt };
      }),
    );
    await this.#preview(call, images, size);
    return { images };
  }

  async variation(call: VariationCall): Promise<ProviderResult> {
    const size = call.size ?? madeFrom(call.model, await sizeOf(call.image));
    const images: ProviderImage[] = await Promise.all(
      Array.from({ length: call.n }, async (_, i) => {
        const pixels = await restyle(call.image, size, `${call.model.id}\nvariation\n${call.seed}\n${i}`);
        return { data: await encodeRaw(pixels, size, { outputFormat: call.outputFormat }) };
      }),
    );
    return { images };
  }

  async removeBackground(call: RemoveBackgroundCall): Promise<ProviderResult> {
    return { images: [{ data: await cutOut(call.image, call.outputFormat) }] };
  }

  /**
   * Streams previews as a real model does: `partialImages` renderings of each image, coarse to fine (the image
   * scaled down 4× less each time, then back up), one every `partialIntervalMs`, then the image after one more.
   */
  async #preview(
    call: PartialImageOptions &
      Pick<GenerateCall, "signal" | "outputFormat" | "outputCompression" | "background">,
    images: readonly ProviderImage[],
    size: Dimensions,
  ): Promise<void> {
    const { partialImages, onPartialImage } = call;
    if (!partialImages || !onPartialImage) return;
    for (let index = 0; index < partialImages; index++) {
      await sleep(this.#partialIntervalMs, undefined, { signal: call.signal });
      for (const image of images) {
        const coarse = await coarseRendering(image.data, size, 4 ** (partialImages - index), call);
        await onPartialImage({ index, data: coarse });
      }
    }
    await sleep(this.#partialIntervalMs, undefined, { signal: call.signal });
  }
}

/** The image as seen `factor` times coarser: scaled down, then back up to its size, in the requested format. */
async function coarseRendering(
  image: Buffer,
  size: Dimensions,
  factor: number,
  options: Pick<GenerateCall, "outputFormat" | "outputCompression" | "background">,
): Promise<Buffer> {
  const small = await sharp(image, readOptions)
    .resize(Math.max(1, Math.round(size.width / factor)), Math.max(1, Math.round(size.height / factor)), {
      fit: "fill",
    })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const { width, height } = small.info;
  return encode(
    sharp(small.data, { raw: { width, height, channels: 4 } }).resize(size.width, size.height, {
      fit: "fill",
    }),
    {
      format: options.outputFormat,
      compression: options.outputCompression,
      keepAlpha: options.background !== "opaque",
    },
  ).toBuffer();
}

/**
 * A deterministic cut-out, offline: the background is the colour of the image's border, and pixels are
 * transparent by how close they are to it (fully within `near`, opaque beyond `far`, a ramp between), so a
 * subject on a plain backdrop comes out clean. The image's own transparency is kept.
 */
export async function cutOut(image: Buffer, outputFormat: ImageFormat): Promise<Buffer> {
  const { data, info } = await sharp(image, readOptions)
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const { width, height } = info;
  const sum = [0, 0, 0];
  let count = 0;
  const addBorder = (x: number, y: number) => {
    const p = (y * width + x) * 4;
    for (let c = 0; c < 3; c++) sum[c] = (sum[c] as number) + (data[p + c] as number);
    count++;
  };
  for (let x = 0; x < width; x++) {
    addBorder(x, 0);
    addBorder(x, height - 1);
  }
  for (let y = 1; y < height - 1; y++) {
    addBorder(0, y);
    addBorder(width - 1, y);
  }
  const background = sum.map((v) => v / count);
  const near = 24;
  const far = 72;
  await inSlices(width * height, (from, to) => {
    for (let p = from; p < to; p++) {
      let d2 = 0;
      for (let c = 0; c < 3; c++) d2 += ((data[p * 4 + c] as number) - (background[c] as number)) ** 2;
      const d = Math.sqrt(d2);
      const keep = d <= near ? 0 : d >= far ? 1 : (d - near) / (far - near);
      data[p * 4 + 3] = Math.round((data[p * 4 + 3] as number) * keep);
    }
  });
  return encode(sharp(data, { raw: { width, height, channels: 4 } }), {
    format: outputFormat,
    keepAlpha: true,
  }).toBuffer();
}

/**
 * The size `model` makes from an input of `input` when the request leaves the size to it ("auto"): the input's,
 * when the model takes it; else the nearest it takes (same orientation and aspect, near the same area). A model
 * that takes aspect ratios makes its ratio's own size.
 */
function madeFrom(model: ModelSpec, input: Dimensions): Dimensions {
  const takesIt = model.sizes.kind !== "aspect" && !sizeProblem(model, `${input.width}x${input.height}`);
  return takesIt ? input : nearestSize(model, input);
}

async function sizeOf(png: Buffer): Promise<Dimensions> {
  const meta = await sharp(png, readOptions).metadata();
  return { width: meta.width, height: meta.height };
}

async function rgba(pipeline: Sharp, size: Dimensions): Promise<Buffer> {
  return pipeline.resize(size.width, size.height, { fit: "cover" }).ensureAlpha().raw().toBuffer();
}

function art(seed: string, size: Dimensions, transparent: boolean): Promise<Buffer> {
  const svg = renderSvg(seed, size.width, size.height, { transparent });
  return rgba(sharp(Buffer.from(svg)), size);
}

/**
 * A per-pixel loop over `count` pixels, a slice at a time (`body` returns false to stop early), letting the event
 * loop turn between slices. The sandbox runs the API in the worker's process: one 4K image's loop in one go would
 * hold every request, a cancel among them, for most of a second.
 */
async function inSlices(
  count: number,
  body: (from: number, to: number) => boolean | undefined,
): Promise<void> {
  const slice = 1 << 16;
  for (let from = 0; from < count; from += slice) {
    const to = Math.min(count, from + slice);
    if (body(from, to) === false || to === count) return;
    await nextTurn();
  }
}

/** Per pixel: `keep` (the mask's alpha) of the base, the rest from the new content. */
async function blend(base: Buffer, content: Buffer, keep: Uint8Array): Promise<Buffer> {
  const out = Buffer.alloc(base.length);
  await inSlices(keep.length, (from, to) => {
    for (let p = from; p < to; p++) {
      const k = keep[p] as number;
      for (let c = p * 4; c < p * 4 + 4; c++) {
        out[c] =
          k === 255
            ? (base[c] as number)
            : Math.round(((base[c] as number) * k + (content[c] as number) * (255 - k)) / 255);
      }
    }
  });
  return out;
}

/** The same picture, a little different: hue and tone shifted by the seed, with a faint seeded overlay. */
async function restyle(image: Buffer, size: Dimensions, seed: string): Promise<Buffer> {
  const r = rng(seed);
  const shifted = await rgba(
    sharp(image, readOptions).modulate({ hue: Math.round(-25 + r() * 50), brightness: 0.92 + r() * 0.16 }),
    size,
  );
  const overlay = await art(seed, size, true);
  const keep = new Uint8Array(size.width * size.height);
  // The overlay covers at most a quarter of any pixel; where it has no shape, the shifted image shows.
  await inSlices(keep.length, (from, to) => {
    for (let p = from; p < to; p++) keep[p] = 255 - Math.round(((overlay[p * 4 + 3] as number) * 64) / 255);
  });
  const out = await blend(shifted, overlay, keep);
  // Keep the image's own alpha: a variation of a cut-out is a cut-out.
  await inSlices(keep.length, (from, to) => {
    for (let p = from; p < to; p++) out[p * 4 + 3] = shifted[p * 4 + 3] as number;
  });
  return out;
}

async function encodeRaw(
  pixels: Buffer,
  size: Dimensions,
  options: {
    outputFormat: ImageFormat;
    outputCompression?: number | undefined;
    background?: string | undefined;
  },
): Promise<Buffer> {
  let opaque = true;
  await inSlices(pixels.length / 4, (from, to) => {
    for (let p = from; p < to && opaque; p++) opaque = pixels[p * 4 + 3] === 255;
    return opaque;
  });
  const raw = sharp(pixels, { raw: { width: size.width, height: size.height, channels: 4 } });
  // An opaque result is saved without an alpha channel, as its opaque input was.
  return encode(opaque ? raw.removeAlpha() : raw, {
    format: options.outputFormat,
    compression: options.outputCompression,
    keepAlpha: options.background !== "opaque",
  }).toBuffer();
}

function rng(seedText: string): () => number {
  const seed = createHash("sha256").update(seedText).digest();
  let state = seed.readUInt32LE(0) ^ seed.readUInt32LE(4);
  // mulberry32: small and deterministic.
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function renderSvg(
  seedText: string,
  width: number,
  height: number,
  options: { transparent: boolean },
): string {
  const r = rng(seedText);
  const hue = Math.floor(r() * 360);
  const shapes: string[] = [];
  const scale = Math.min(width, height);
  for (let i = 0; i < 7; i++) {
    const h = (hue + 40 + Math.floor(r() * 200)) % 360;
    const cx = Math.round(r() * width);
    const cy = Math.round(r() * height);
    const rad = Math.round(scale * (0.08 + r() * 0.25));
    shapes.push(`<circle cx="${cx}" cy="${cy}" r="${rad}" fill="hsl(${h},70%,55%)" fill-opacity="0.8"/>`);
  }
  const background = options.transparent
    ? ""
    : `<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="hsl(${hue},60%,30%)"/><stop offset="1" stop-color="hsl(${(hue + 90) % 360},60%,65%)"/></linearGradient></defs><rect width="100%" height="100%" fill="url(#g)"/>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${background}${shapes.join("")}</svg>`;
}
