import { randomBytes } from "node:crypto";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { catalog, type InputRule } from "../../lib/catalog/catalog.ts";
import { outpaintCanvas, outpaintLayout } from "../../lib/images/canvas.ts";
import { encode } from "../../lib/images/formats.ts";
import { maskFromAlpha, normalizeMask } from "../../lib/images/mask.ts";
import { ImageInputError, normalizeImage } from "../../lib/images/normalize.ts";
import { sniffFormat } from "../../lib/images/types.ts";
import { at, inside, picture, pixelBomb, pixels, withHole } from "../support/images.ts";
import { photoLikeJpeg } from "../support/large-images.ts";

const open: InputRule = {
  square: false,
  maxEdge: 4096,
  maxPixels: 4096 * 4096,
  maxBytes: 50 * 1024 * 1024,
  maskMaxBytes: 4 * 1024 * 1024,
};
const legacy: InputRule = {
  ...open,
  square: true,
  maxEdge: 1024,
  maxPixels: 1024 * 1024,
  maxBytes: 4 * 1024 * 1024,
};

async function problemOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImageInputError);
  return (err as ImageInputError).problem;
}

describe("input normalisation", () => {
  it.each(["png", "jpeg", "webp", "gif", "avif"] as const)(
    "turns %s into a PNG of the same size",
    async (format) => {
      const input = await picture(120, 80, format);
      const out = await normalizeImage(input, open);
      expect(sniffFormat(out.png)).toBe("png");
      expect([out.width, out.height, out.original]).toEqual([120, 80, { width: 120, height: 80 }]);
      // The red block in the top-left corner survives the trip (lossy formats come close).
      const [r, g, b] = at(await pixels(out.png), 5, 5) as number[];
      expect(r).toBeGreaterThan(200);
      expect(g).toBeLessThan(60);
      expect(b).toBeLessThan(60);
    },
  );

  it("trusts the bytes, not the name: a PNG sent as anything is a PNG; text is refused", async () => {
    expect(await problemOf(normalizeImage(Buffer.from("GIF89a but not really an image"), open))).toBe(
      "corrupt",
    );
    expect(
      await problemOf(normalizeImage(Buffer.from("<svg xmlns='http://www.w3.org/2000/svg'/>"), open)),
    ).toBe("format");
    expect(await problemOf(normalizeImage((await picture(20, 20)).subarray(0, 60), open))).toBe("corrupt");
  });

  it("applies EXIF orientation, then strips the metadata", async () => {
    // 60x30 stored, orientation 6 (rotate 90° clockwise to view): the viewer sees 30x60, red block top-right.
    const stored = await sharp(await picture(60, 30, "png"))
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const before = await sharp(stored).metadata();
    expect([before.orientation, before.exif !== undefined]).toEqual([6, true]);
    const out = await normalizeImage(stored, open);
    expect([out.width, out.height]).toEqual([30, 60]);
    const meta = await sharp(out.png).metadata();
    expect([meta.exif, meta.orientation]).toEqual([undefined, undefined]);
    const p = await pixels(out.png);
    expect(at(p, 27, 3)[0]).toBeGreaterThan(200); // the red corner, now top-right
    expect(at(p, 2, 3)[0]).toBeLessThan(100); // top-left now shows the blue end of the gradient
  });

  it("refuses a pixel bomb from its header, before decoding", async () => {
    const bomb = pixelBomb();
    expect(bomb.length).toBeLessThan(200);
    expect(await problemOf(normalizeImage(bomb, open))).toBe("pixels");
  });

  it("pads to a transparent square and scales down for square-PNG models", async () => {
    const out = await normalizeImage(await picture(2000, 1000), legacy);
    expect([out.width, out.height]).toEqual([1024, 1024]);
    expect(out.content).toEqual({ left: 0, top: 256, width: 1024, height: 512 });
    const p = await pixels(out.png);
    expect(at(p, 500, 100)[3]).toBe(0); // padding: transparent, so the model fills it
    expect(at(p, 500, 500)[3]).toBe(255);
  });

  it("sends a 12 MP camera photo to gpt-image-2 at the size the model reads, not at full size", async () => {
    const rule = catalog.find((m) => m.id === "gpt-image-2")?.edit?.input as InputRule;
    // The catalog says what the model reads (1,536 patches of 32 px); the normalised input is no larger.
    expect(rule.maxPixels).toBe(1_572_864);
    const out = await normalizeImage(await photoLikeJpeg(4000, 3000), rule);
    expect([out.width, out.height]).toEqual([1448, 1086]);
    expect(out.width * out.height).toBeLessThanOrEqual(rule.maxPixels);
    expect(out.png.length).toBeLessThan(5 * 1024 * 1024);
  });

  it("scales down until the PNG fits the byte cap", async () => {
    const noise = randomBytes(400 * 400 * 3);
    const input = await sharp(noise, { raw: { width: 400, height: 400, channels: 3 } })
      .png()
      .toBuffer();
    const out = await normalizeImage(input, { ...open, maxBytes: 120_000 });
    expect(out.png.length).toBeLessThanOrEqual(120_000);
    expect(out.width).toBeLessThan(400);
    expect(out.width).toBe(out.height);
  });
});

describe("masks", () => {
  const hole = { left: 20, top: 10, width: 30, height: 20 };

  it("keeps an alpha mask as it is, at the image's size", async () => {
    const image = await normalizeImage(await picture(80, 60), open);
    const mask = await pixels(await normalizeMask(await withHole(80, 60, hole), image, open));
    expect([mask.width, mask.height]).toEqual([80, 60]);
    for (const [x, y] of [
      [25, 15],
      [5, 5],
      [70, 50],
    ] as const) {
      expect(at(mask, x, y)[3]).toBe(inside(hole, x, y) ? 0 : 255);
    }
  });

  it("reads a mask without alpha as black-and-white, white marking the edit", async () => {
    const image = await normalizeImage(await picture(80, 60), open);
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="80" height="60"><rect width="80" height="60" fill="#000"/><rect x="20" y="10" width="30" height="20" fill="#fff"/></svg>`;
    const bw = await sharp(Buffer.from(svg)).removeAlpha().jpeg().toBuffer();
    expect((await sharp(bw).metadata()).hasAlpha).toBe(false);
    const mask = await pixels(await normalizeMask(bw, image, open));
    expect(at(mask, 25, 15)[3]).toBeLessThan(8); // white: edit
    expect(at(mask, 5, 5)[3]).toBeGreaterThan(247); // black: keep
  });

  it("scales a mask that differs only by scale, and refuses one of another shape", async () => {
    const image = await normalizeImage(await picture(200, 100), open);
    const half = await normalizeMask(
      await withHole(100, 50, { left: 0, top: 0, width: 50, height: 50 }),
      image,
      open,
    );
    const p = await pixels(half);
    expect([p.width, p.height]).toEqual([200, 100]);
    expect([at(p, 10, 10)[3], at(p, 190, 90)[3]]).toEqual([0, 255]);
    expect(await problemOf(normalizeMask(await withHole(100, 100, hole), image, open))).toBe("mask_size");
  });

  it("refuses a mask that would change nothing", async () => {
    const image = await normalizeImage(await picture(40, 40), open);
    const opaque = await sharp({ create: { width: 40, height: 40, channels: 4, background: "#000f" } })
      .png()
      .toBuffer();
    expect(await problemOf(normalizeMask(opaque, image, open))).toBe("mask_empty");
  });

  it("pads a mask as its image was padded, the padding open to edit", async () => {
    const image = await normalizeImage(await picture(200, 100), legacy);
    const mask = await pixels(await normalizeMask(await withHole(200, 100, hole), image, legacy));
    expect([mask.width, mask.height]).toEqual([200, 200]);
    expect(at(mask, 100, 10)[3]).toBe(0); // padding
    expect(at(mask, 190, 140)[3]).toBe(255); // image, outside the hole
    expect(at(mask, 25, 50 + 15)[3]).toBe(0); // the hole, moved down by the padding
  });

  it("takes the image's own transparency as the mask when none is given", async () => {
    const cutout = await withHole(60, 40, hole, [200, 100, 50]);
    const mask = await maskFromAlpha((await normalizeImage(cutout, open)).png);
    expect(mask).toBeDefined();
    const p = await pixels(mask as Buffer);
    expect([at(p, 25, 15)[3], at(p, 55, 35)[3]]).toEqual([0, 255]);
    expect(await maskFromAlpha((await normalizeImage(await picture(60, 40), open)).png)).toBeUndefined();
  });
});

describe("outpaint canvas", () => {
  it("grows every side by the border and centres the original", async () => {
    const layout = outpaintLayout({ width: 200, height: 100 }, 0.25, (want) => want);
    expect(layout).toEqual({
      canvas: { width: 300, height: 150 },
      placement: { left: 50, top: 25, width: 200, height: 100 },
    });
    const source = await picture(200, 100);
    const { image, mask } = await outpaintCanvas(source, layout);
    const [img, m, src] = await Promise.all([pixels(image), pixels(mask), pixels(source)]);
    expect([img.width, img.height, m.width, m.height]).toEqual([300, 150, 300, 150]);
    for (const [x, y] of [
      [10, 10],
      [60, 30],
      [150, 75],
      [249, 124],
      [260, 140],
    ] as const) {
      const within = inside(layout.placement, x, y);
      expect(at(m, x, y)).toEqual([0, 0, 0, within ? 255 : 0]);
      expect(at(img, x, y)).toEqual(within ? at(src, x - 50, y - 25) : [0, 0, 0, 0]);
    }
  });

  it("scales the original when the model needs another canvas, keeping it centred", () => {
    const layout = outpaintLayout({ width: 100, height: 100 }, 0.1, () => ({ width: 1024, height: 1024 }));
    expect(layout.placement).toEqual({ left: 85, top: 85, width: 853, height: 853 });
  });
});

describe("output encoding", () => {
  it("gives JPEG and WebP OpenAI's default output_compression, 100, when none is asked for", async () => {
    const raw = await picture(64, 48);
    for (const format of ["jpeg", "webp"] as const) {
      const as = (compression?: number) =>
        encode(sharp(raw), {
          format,
          keepAlpha: false,
          ...(compression !== undefined && { compression }),
        }).toBuffer();
      const [none, hundred, ninety] = await Promise.all([as(), as(100), as(90)]);
      expect([format, none.equals(hundred), none.equals(ninety)]).toEqual([format, true, false]);
    }
  });
});
