import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  aspectRatios,
  catalog,
  type ModelSpec,
  nearestSize,
  parseSize,
  sizeForAspectRatio,
  sizeProblem,
} from "../../lib/catalog/catalog.ts";

const model = (id: string) => catalog.find((m) => m.id === id) as ModelSpec;

describe("aspect_ratio", () => {
  it.each(catalog.map((m) => [m.id, m] as const))(
    "maps every ratio to a size %s supports, never the wrong way round",
    (_, m) => {
      for (const ratio of aspectRatios) {
        const size = sizeForAspectRatio(m, ratio);
        expect(sizeProblem(m, size), `${ratio} → ${size}`).toBeUndefined();
        const { width, height } = parseSize(size) as { width: number; height: number };
        const [w, h] = ratio.split(":").map(Number) as [number, number];
        const orientation = Math.sign(width - height);
        if (m.sizes.kind === "range") expect(orientation, `${ratio} → ${size}`).toBe(Math.sign(w - h));
        // From a fixed menu the nearest may be a square (4:5 on dall-e-3), but never the other orientation.
        else expect([0, Math.sign(w - h)], `${ratio} → ${size}`).toContain(orientation);
      }
    },
  );

  it("keeps the ratio closely where the model takes any size", () => {
    expect(sizeForAspectRatio(model("gpt-image-2"), "16:9")).toBe("1360x768");
    expect(sizeForAspectRatio(model("gpt-image-2"), "2:3")).toBe("832x1248");
    expect(sizeForAspectRatio(model("gpt-image-2"), "1:1")).toBe("1024x1024");
    expect(sizeForAspectRatio(model("placeholder"), "4:5")).toBe("916x1145");
  });

  it("picks the nearest entry from a fixed menu", () => {
    const m = model("gpt-image-1.5");
    expect(sizeForAspectRatio(m, "16:9")).toBe("1536x1024");
    expect(sizeForAspectRatio(m, "9:16")).toBe("1024x1536");
    expect(sizeForAspectRatio(m, "5:4")).toBe("1536x1024");
    expect(sizeForAspectRatio(m, "1:1")).toBe("1024x1024");
  });
});

describe("nearest supported size", () => {
  it("is always a size the model accepts, whatever is asked", () => {
    const models = catalog.filter((m) => m.sizes.kind === "range");
    fc.assert(
      fc.property(
        fc.constantFrom(...models),
        fc.integer({ min: 1, max: 20_000 }),
        fc.integer({ min: 1, max: 20_000 }),
        (m, width, height) => {
          const d = nearestSize(m, { width, height });
          expect(sizeProblem(m, `${d.width}x${d.height}`)).toBeUndefined();
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
