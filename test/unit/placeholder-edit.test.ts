import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { catalog, type ModelSpec, sizeProblem } from "../../lib/catalog/catalog.ts";
import type { EditCall } from "../../lib/jobs/ports/provider.ts";
import { PlaceholderProvider } from "../../lib/providers/placeholder.ts";
import { at, inside, meanDifference, picture, pixels, withHole } from "../support/images.ts";

const provider = new PlaceholderProvider();
const modelNamed = (id: string) => catalog.find((m) => m.id === id) as ModelSpec;
const model = modelNamed("placeholder");
const signal = new AbortController().signal;
const hole = { left: 40, top: 30, width: 50, height: 40 };

const editCall = (image: Buffer, extra: Partial<EditCall> = {}): EditCall => ({
  model,
  prompt: "a red balloon",
  images: [image],
  n: 1,
  size: undefined,
  outputFormat: "png",
  seed: "job_test:0",
  signal,
  ...extra,
});

describe("placeholder edits", () => {
  it("changes the masked pixels, and only those", async () => {
    const image = await picture(160, 120);
    const mask = await withHole(160, 120, hole);
    const [out] = (await provider.edit(editCall(image, { mask }))).images;
    const [before, after] = await Promise.all([pixels(image), pixels(out?.data as Buffer)]);
    expect([after.width, after.height]).toEqual([160, 120]);
    let changedInside = 0;
    for (let y = 0; y < 120; y++) {
      for (let x = 0; x < 160; x++) {
        const same = at(before, x, y).join() === at(after, x, y).join();
        if (inside(hole, x, y)) changedInside += same ? 0 : 1;
        else expect(same, `pixel ${x},${y} outside the mask changed`).toBe(true);
      }
    }
    // Most of the hole is repainted (a pixel may match by chance, never most of them).
    expect(changedInside).toBeGreaterThan(hole.width * hole.height * 0.9);
  });

  it("is deterministic per seed, and differs between seeds and prompts", async () => {
    const image = await picture(64, 64);
    const mask = await withHole(64, 64, { left: 0, top: 0, width: 64, height: 32 });
    const run = async (extra: Partial<EditCall>) =>
      (await provider.edit(editCall(image, { mask, ...extra }))).images[0]?.data as Buffer;
    const a = await run({});
    expect((await run({})).equals(a)).toBe(true);
    expect((await run({ seed: "job_other:0" })).equals(a)).toBe(false);
    expect((await run({ prompt: "a blue kite" })).equals(a)).toBe(false);
  });

  it("keeps transparency: transparent background, webp out, alpha kept in the edited area", async () => {
    const image = await picture(80, 80);
    const mask = await withHole(80, 80, { left: 0, top: 0, width: 80, height: 40 });
    const [out] = (
      await provider.edit(editCall(image, { mask, background: "transparent", outputFormat: "webp" }))
    ).images;
    const data = out?.data as Buffer;
    expect((await sharp(data).metadata()).format).toBe("webp");
    const p = await pixels(data);
    let clear = 0;
    for (let y = 0; y < 40; y++) for (let x = 0; x < 80; x++) clear += at(p, x, y)[3] === 0 ? 1 : 0;
    expect(clear).toBeGreaterThan(0); // where no shape was painted, the edited half stayed see-through
    expect(at(p, 40, 70)[3]).toBe(255); // the kept half is opaque
  });

  it("generates transparent webp with its alpha channel", async () => {
    const [out] = (
      await provider.generate({
        model,
        prompt: "a logo",
        n: 1,
        size: { width: 96, height: 96 },
        outputFormat: "webp",
        background: "transparent",
        seed: "s",
        signal,
      })
    ).images;
    const meta = await sharp(out?.data as Buffer).metadata();
    expect([meta.format, meta.hasAlpha]).toEqual(["webp", true]);
    const p = await pixels(out?.data as Buffer);
    expect(Array.from({ length: 96 * 96 }, (_, i) => p.data[i * 4 + 3]).some((a) => a === 0)).toBe(true);
  });

  it("restyles the whole image when there is no mask, keeping it recognisable", async () => {
    const image = await picture(120, 90);
    const [out] = (await provider.edit(editCall(image))).images;
    const unrelated = await sharp({ create: { width: 120, height: 90, channels: 3, background: "#7f7f7f" } })
      .png()
      .toBuffer();
    const changed = await meanDifference(image, out?.data as Buffer);
    expect(changed).toBeGreaterThan(2);
    expect(changed).toBeLessThan((await meanDifference(image, unrelated)) / 2);
  });
});

describe("placeholder variations", () => {
  it("are recognisably the same image, distinct from each other, the same for the same seed", async () => {
    const image = await picture(120, 90);
    const call = {
      model,
      image,
      n: 2,
      size: undefined,
      outputFormat: "png" as const,
      seed: "job_v:0",
      signal,
    };
    const { images } = await provider.variation(call);
    const [a, b] = images.map((i) => i.data) as [Buffer, Buffer];
    const other = await picture(120, 90, "png").then((p) =>
      sharp(p).negate({ alpha: false }).png().toBuffer(),
    );
    const baseline = await meanDifference(image, other);
    for (const v of [a, b]) {
      const d = await meanDifference(image, v);
      expect(d).toBeGreaterThan(1);
      expect(d).toBeLessThan(baseline / 3);
    }
    expect(a.equals(b)).toBe(false);
    expect((await provider.variation(call)).images[0]?.data.equals(a)).toBe(true);
  });
});

describe("placeholder sizes", () => {
  const sizeOf = async (data: Buffer | undefined) => {
    const meta = await sharp(data as Buffer).metadata();
    return `${meta.width}x${meta.height}`;
  };

  it("makes, for an edit or a variation with no size, a size the model it stands in for takes", async () => {
    const image = await picture(800, 600);
    const mask = await withHole(800, 600, { left: 100, top: 100, width: 200, height: 200 });
    // gpt-image-2 takes 800x600 neither as a size (under its pixel floor) nor as an output.
    const gpt = modelNamed("gpt-image-2");
    expect(sizeProblem(gpt, "800x600")).toBeDefined();
    const edited = await sizeOf((await provider.edit(editCall(image, { model: gpt, mask }))).images[0]?.data);
    const varied = await sizeOf(
      (
        await provider.variation({
          model: gpt,
          image,
          n: 1,
          size: undefined,
          outputFormat: "png",
          seed: "s",
          signal,
        })
      ).images[0]?.data,
    );
    for (const size of [edited, varied]) {
      expect([size, sizeProblem(gpt, size)]).toEqual([size, undefined]);
      const [w, h] = size.split("x").map(Number) as [number, number];
      // The input's shape: landscape, near 4:3.
      expect(Math.abs(w / h - 4 / 3)).toBeLessThan(0.02);
    }
    // A fixed menu: the entry nearest in aspect, then in area.
    expect(
      await sizeOf((await provider.edit(editCall(image, { model: modelNamed("dall-e-2") }))).images[0]?.data),
    ).toBe("512x512");
  });

  it("keeps the input's size where the model takes it, and makes the model's default when nothing says", async () => {
    const image = await picture(800, 600);
    expect(await sizeOf((await provider.edit(editCall(image))).images[0]?.data)).toBe("800x600");
    const fits = await picture(1280, 720);
    const gpt = modelNamed("gpt-image-2");
    expect(await sizeOf((await provider.edit(editCall(fits, { model: gpt }))).images[0]?.data)).toBe(
      "1280x720",
    );
    const generated = await provider.generate({
      model: modelNamed("dall-e-3"),
      prompt: "p",
      n: 1,
      size: undefined,
      outputFormat: "png",
      seed: "s",
      signal,
    });
    expect(await sizeOf(generated.images[0]?.data)).toBe(modelNamed("dall-e-3").defaultSize);
  });
});
