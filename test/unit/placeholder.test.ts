import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { catalog } from "../../lib/catalog/catalog.ts";
import { sniffFormat } from "../../lib/images/types.ts";
import type { GenerateCall } from "../../lib/jobs/ports/provider.ts";
import { PlaceholderProvider } from "../../lib/providers/placeholder.ts";

const model = catalog.find((m) => m.id === "placeholder");
if (!model) throw new Error("placeholder model missing");
const call = (over: Partial<GenerateCall> = {}): GenerateCall => ({
  model,
  prompt: "a lighthouse",
  n: 1,
  size: { width: 320, height: 200 },
  outputFormat: "png",
  seed: "job_1:0",
  signal: new AbortController().signal,
  ...over,
});
const provider = new PlaceholderProvider();
const first = async (c: GenerateCall) => (await provider.generate(c)).images[0]?.data ?? Buffer.alloc(0);

describe("placeholder provider", () => {
  it("is deterministic for a prompt and seed, and differs when either changes", async () => {
    const a = await first(call());
    expect(a.equals(await first(call()))).toBe(true);
    expect(a.equals(await first(call({ prompt: "a windmill" })))).toBe(false);
    expect(a.equals(await first(call({ seed: "job_2:0" })))).toBe(false);
  });

  it("makes n distinct images of the requested size and format", async () => {
    const { images } = await provider.generate(call({ n: 3, outputFormat: "webp" }));
    expect(images).toHaveLength(3);
    expect(new Set(images.map((i) => i.data.toString("base64"))).size).toBe(3);
    for (const img of images) {
      const meta = await sharp(img.data).metadata();
      expect([sniffFormat(img.data), meta.width, meta.height]).toEqual(["webp", 320, 200]);
    }
  });

  it("keeps a transparent background transparent, and fills an opaque one", async () => {
    const stats = async (c: GenerateCall) => (await sharp(await first(c)).stats()).channels[3]?.min;
    expect(await stats(call({ background: "transparent" }))).toBe(0);
    expect(await sharp(await first(call())).metadata()).toMatchObject({ hasAlpha: false });
  });
});
