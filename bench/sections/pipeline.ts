import sharp from "sharp";
import { conform, describeImage } from "../../lib/images/formats.ts";
import { maxInputPixels } from "../../lib/images/types.ts";
import { fakeImage } from "../../test/support/fake-openai.ts";
import { type BenchContext, type Measured, notMeasured } from "../context.ts";
import { epochMs, median } from "../stats.ts";

// Each sharp pipeline the service runs, timed against the minimal bare-sharp call that produces the same pixels.
// A ratio above 1 is the service's own cost on top: an extra decode, encode, copy or metadata pass shows up here.
// Both sides run alternately in one process, so machine noise falls on both; ratio = median(service)/median(bare).

export interface PipelineCase {
  name: string;
  /** What the case processes; made once, outside the timing. */
  input(): Promise<Buffer>;
  /** Exactly what the service runs for one image. */
  service(input: Buffer): Promise<Buffer>;
  /** The least sharp code that makes the same output. */
  bare(input: Buffer): Promise<Buffer>;
}

export interface PendingCase {
  name: string;
  pending: string;
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

const webpTranscode: PipelineCase = {
  name: "webp_transcode",
  // The provider's 1024×1024 PNG, re-encoded because the request asked for output_format webp.
  input: () => fakeImage(1024, 1024, "png", "photo"),
  // The runner's per-image work: conform to the requested format, then read the facts it records.
  service: async (input) => {
    const out = await conform(input, { format: "webp", keepAlpha: true });
    await describeImage(out);
    return out;
  },
  bare: (input) => sharp(input).webp({ quality: 90, alphaQuality: 100 }).toBuffer(),
};

// ── Plug-in point for issue 3 (editing) ──────────────────────────────────────────────────────────────────────
// Replace each PendingCase with a PipelineCase once its lib function is merged:
//   normalize_jpeg:  input = twelveMegapixelJpeg(); service = the edit input normaliser from lib/images
//                    (the exact call the edit operation makes); bare = the one sharp chain giving the same pixels
//                    (e.g. sharp(input, { limitInputPixels }).autoOrient().resize(...).png().toBuffer()).
//   outpaint_canvas: input = a 1024×1024 PNG; service = the canvas-and-mask builder; bare = sharp's
//                    extend() (and the mask's create + composite) with the same geometry and encoding.
// Until then they are reported as "not measured", never as a number.
const pendingCases: PendingCase[] = [
  { name: "normalize_jpeg", pending: "edit input normalisation arrives with issue 3" },
  { name: "outpaint_canvas", pending: "outpaint canvas and mask arrive with issue 3" },
];

export const pipelineCases: (PipelineCase | PendingCase)[] = [...pendingCases, webpTranscode];

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
    if ("pending" in c) {
      results[c.name] = { ratio: notMeasured, note: c.pending };
      continue;
    }
    const input = await c.input();
    const [a, b] = await Promise.all([c.service(input), c.bare(input)]);
    const same = await samePixels(a, b);
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
        let t = epochMs();
        await c.service(input);
        s.push(epochMs() - t);
        t = epochMs();
        await c.bare(input);
        bm.push(epochMs() - t);
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
async function samePixels(a: Buffer, b: Buffer): Promise<boolean> {
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
