import sharp from "sharp";
import { catalog, type EditSpec, type ModelSpec, nearestSize } from "../../lib/catalog/catalog.ts";
import { outpaintCanvas, outpaintLayout } from "../../lib/images/canvas.ts";
import { conform, describeImage } from "../../lib/images/formats.ts";
import { inputLayout, normalizeImage } from "../../lib/images/normalize.ts";
import { maxInputPixels } from "../../lib/images/types.ts";
import { fakeImage } from "../../test/support/fake-openai.ts";
import type { BenchContext, Measured } from "../context.ts";
import { epochMs, median } from "../stats.ts";

// Each sharp pipeline the service runs, timed against the minimal bare-sharp call that produces the same pixels.
// A ratio above 1 is the service's own cost on top: an extra decode, encode, copy or metadata pass shows up here.
// Both sides run alternately in one process, so machine noise falls on both; ratio = median(service)/median(bare).

export interface PipelineCase {
  name: string;
  /** What the case processes; made once, outside the timing. */
  input(): Promise<Buffer>;
  /** Exactly what the service runs for one image: every image it outputs. */
  service(input: Buffer): Promise<Buffer[]>;
  /** The least sharp code that makes the same outputs. */
  bare(input: Buffer): Promise<Buffer[]>;
}

/** A 12-megapixel photo-like JPEG, as phones upload for edits. */
export const twelveMegapixelJpeg = () =>
  sharp({
    create: {
      width: 4000,
      height: 3000,
      channels: 3,
      background: "#808080",
      noise: { type: "gaussian", mean: 128, sigma: 30 },
    },
  })
    .jpeg({ quality: 90 })
    .toBuffer();

// The default model's rule: what the README's figure (and a run of the sandbox) shows.
const editModel = catalog.find((m) => m.id === "gpt-image-2") as ModelSpec;
const editRule = (editModel.edit as EditSpec).input;

const normalizeJpeg: PipelineCase = {
  name: "normalize_jpeg",
  input: twelveMegapixelJpeg,
  // What an edit's API request runs on each input image (lib/jobs/sources.ts stageImage): 4000×3000 → 1448×1086.
  service: async (input) => [(await normalizeImage(input, editRule)).png],
  bare: async (input) => {
    const { width, height } = inputLayout({ width: 4000, height: 3000 }, editRule);
    return [
      await sharp(input, { limitInputPixels: maxInputPixels })
        .autoOrient()
        .resize(width, height, { fit: "fill" })
        .png()
        .toBuffer(),
    ];
  },
};

// The outpaint worker's canvas: a stored 1024² source, 25 % border, on the model's nearest canvas (1024², so the
// source shrinks to 683² in the middle). Image and mask are both outputs.
const outpaintGeometry = outpaintLayout({ width: 1024, height: 1024 }, 0.25, (want) =>
  nearestSize(editModel, want),
);

const outpaintCase: PipelineCase = {
  name: "outpaint_canvas",
  input: async () => (await normalizeImage(await fakeImage(1024, 1024, "png", "photo"), editRule)).png,
  service: async (input) => {
    const { image, mask } = await outpaintCanvas(input, outpaintGeometry);
    return [image, mask];
  },
  bare: async (input) => {
    const { canvas, placement: p } = outpaintGeometry;
    const border = {
      left: p.left,
      top: p.top,
      right: canvas.width - p.width - p.left,
      bottom: canvas.height - p.height - p.top,
      background: { r: 0, g: 0, b: 0, alpha: 0 },
    };
    return Promise.all([
      sharp(input, { limitInputPixels: maxInputPixels })
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
  },
};

const webpTranscode: PipelineCase = {
  name: "webp_transcode",
  // The provider's 1024×1024 PNG, re-encoded because the request asked for output_format webp.
  input: () => fakeImage(1024, 1024, "png", "photo"),
  // The runner's per-image work: conform to the requested format, then read the facts it records.
  service: async (input) => {
    const out = await conform(input, { format: "webp", keepAlpha: true });
    await describeImage(out);
    return [out];
  },
  // OpenAI's default output_compression is 100, and so is the service's (lib/images/formats.ts).
  bare: async (input) => [await sharp(input).webp({ quality: 100, alphaQuality: 100 }).toBuffer()],
};

export const pipelineCases: PipelineCase[] = [normalizeJpeg, outpaintCase, webpTranscode];

export interface PipelineResult {
  ratio: Measured<number>;
  service_ms?: number;
  bare_ms?: number;
  same_output?: boolean;
  note?: string;
}

export async function measurePipelines(ctx: BenchContext): Promise<Record<string, PipelineResult>> {
  const results: Record<string, PipelineResult> = {};
  for (const c of pipelineCases) {
    const input = await c.input();
    const a = await c.service(input);
    const b = await c.bare(input);
    const same =
      a.length === b.length && (await Promise.all(a.map((x, i) => samePixels(x, b[i])))).every(Boolean);
    // An honest comparison needs the same work on both sides.
    if (!same) throw new Error(`pipeline ${c.name}: the bare sharp call does not give the service's pixels`);
    await c.service(input); // warm up both
    await c.bare(input);
    const iterations = ctx.quick ? 3 : 6;
    const ratios: number[] = [];
    const serviceMs: number[] = [];
    const bareMs: number[] = [];
    for (let r = 0; r < ctx.repeats; r++) {
      const s: number[] = [];
      const bm: number[] = [];
      for (let i = 0; i < iterations; i++) {
        // Alternate which side goes first, so neither always runs on a cache the other warmed.
        const order = i % 2 === 0 ? [c.service, c.bare] : [c.bare, c.service];
        for (const run of order) {
          const t = epochMs();
          await run(input);
          (run === c.service ? s : bm).push(epochMs() - t);
        }
      }
      serviceMs.push(median(s));
      bareMs.push(median(bm));
      ratios.push(median(s) / median(bm));
    }
    results[c.name] = {
      ratio: median(ratios),
      service_ms: median(serviceMs),
      bare_ms: median(bareMs),
      same_output: same,
    };
    ctx.log(`pipeline ${c.name}: ratio ${median(ratios).toFixed(3)} (same pixels: ${same})`);
  }
  return results;
}

/** Same encoded bytes, or else the same decoded pixels and size. */
async function samePixels(a: Buffer, b: Buffer | undefined): Promise<boolean> {
  if (b === undefined) return false;
  if (a.equals(b)) return true;
  const [ra, rb] = await Promise.all(
    [a, b].map((x) =>
      sharp(x, { limitInputPixels: maxInputPixels }).raw().toBuffer({ resolveWithObject: true }),
    ),
  );
  return (
    ra !== undefined &&
    rb !== undefined &&
    ra.info.width === rb.info.width &&
    ra.info.height === rb.info.height &&
    ra.data.equals(rb.data)
  );
}
