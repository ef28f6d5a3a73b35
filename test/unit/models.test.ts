import { describe, expect, it } from "vitest";
import { catalog, type ModelSpec, sizeProblem } from "../../lib/catalog/catalog.ts";
import { jobIdInstant, jobIdPattern, jobIdTime, newJobId } from "../../lib/jobs/model.ts";
import type { ImageProvider } from "../../lib/jobs/ports/provider.ts";
import { ProviderRegistry } from "../../lib/jobs/registry.ts";
import { PlaceholderProvider } from "../../lib/providers/placeholder.ts";

const model = (id: string) => catalog.find((m) => m.id === id) as ModelSpec;
const fakeOpenAI: ImageProvider = {
  name: "openai",
  generate: async () => ({ images: [] }),
  edit: async () => ({ images: [] }),
};

describe("size rules", () => {
  it.each([
    ["1024x1024", true],
    ["3840x2160", true], // the largest
    ["1280x720", true],
    ["1000x1000", false], // not multiples of 16
    ["3856x2160", false], // edge over 3840
    ["3072x1008", false], // aspect over 3:1
    ["512x512", false], // under the pixel floor
    ["auto", true],
    ["big", false],
  ])("gpt-image-2 %s → %s", (size, ok) => {
    expect(sizeProblem(model("gpt-image-2"), size) === undefined).toBe(ok);
  });

  it("lists the allowed sizes for fixed-menu models", () => {
    expect(sizeProblem(model("gpt-image-1.5"), "1536x1024")).toBeUndefined();
    expect(sizeProblem(model("gpt-image-1.5"), "1792x1024")).toMatch(/1024x1024, 1536x1024, 1024x1536, auto/);
  });
});

describe("provider registry", () => {
  const now = () => new Date("2026-11-22T00:00:00Z");

  it("routes a model to its provider, defaulting to the first live one", () => {
    const registry = new ProviderRegistry({ providers: [fakeOpenAI], now });
    expect(registry.defaultModel).toBe("gpt-image-2");
    expect(registry.resolve(undefined, "generate")).toMatchObject({ provider: fakeOpenAI, standIn: false });
  });

  it("refuses retired models with their shutdown date and replacement", () => {
    const registry = new ProviderRegistry({
      providers: [fakeOpenAI],
      now: () => new Date("2026-12-02T00:00:00Z"),
    });
    expect(() => registry.resolve("gpt-image-1.5", "generate")).toThrow(
      "The model 'gpt-image-1.5' was shut down on 2026-12-01. Use 'gpt-image-2' instead.",
    );
    expect(registry.list().map((m) => m.model.id)).not.toContain("gpt-image-1.5");
  });

  it("lets the placeholder stand in, offline, for models whose provider has no key", () => {
    const placeholder = new PlaceholderProvider();
    const registry = new ProviderRegistry({ providers: [placeholder], standIn: placeholder, now });
    expect(registry.resolve("gpt-image-2", "generate")).toMatchObject({
      provider: placeholder,
      standIn: true,
    });
    expect(registry.resolve("placeholder", "generate").standIn).toBe(false);
  });

  it("says a model is unavailable when its provider is missing and nothing stands in", () => {
    const registry = new ProviderRegistry({ providers: [new PlaceholderProvider()], now });
    expect(() => registry.resolve("gpt-image-2", "generate", "input.model")).toThrow(/not configured/);
    expect(registry.defaultModel).toBe("placeholder");
  });

  it("resolves dated snapshots and aliases through the catalog: their model's capabilities, their own name", () => {
    const registry = new ProviderRegistry({ providers: [fakeOpenAI], now });
    for (const [alias, of] of [
      ["gpt-image-2-2026-04-21", "gpt-image-2"],
      ["chatgpt-image-latest", "gpt-image-2"],
      ["gpt-image-2.5-flare-2026-09-08", "gpt-image-2.5-flare"],
    ] as const) {
      const { model, provider } = registry.resolve(alias, "edit");
      const { id: _, upstreamId, aliasOf, ...capabilities } = model;
      const { id: __, ...target } = registry.model(of) as ModelSpec;
      expect([provider, upstreamId, aliasOf, capabilities]).toEqual([fakeOpenAI, alias, of, target]);
      expect(registry.list().map((m) => m.model.id)).toContain(alias);
    }
  });

  it("gives the 2.5 and 2.6 families xhigh and max, and gpt-image-2 and later input_fidelity", () => {
    for (const id of ["gpt-image-2.5-flare", "gpt-image-2.5-sunburst", "gpt-image-2.6-flare"]) {
      expect(model(id).qualities).toEqual(["auto", "low", "medium", "high", "xhigh", "max"]);
      expect(model(id).sizes).toEqual(model("gpt-image-2").sizes);
    }
    expect(model("gpt-image-2").qualities).not.toContain("xhigh");
    for (const id of ["gpt-image-2", "gpt-image-2.5-flare", "gpt-image-2.6-flare"]) {
      expect(model(id).edit?.inputFidelity).toEqual(["low", "high"]);
    }
  });

  it("fails fast on a default model that is not in the catalog", () => {
    expect(() => new ProviderRegistry({ providers: [fakeOpenAI], defaultModel: "gpt-9", now })).toThrow(
      /gpt-9/,
    );
  });
});

describe("job ids", () => {
  it("carry the instant they were made for, which listing sorts and filters on", () => {
    const at = Date.parse("2026-11-22T08:15:30.123Z");
    const id = newJobId(at);
    expect(id).toMatch(jobIdPattern);
    expect(jobIdInstant(id)).toBe(at);
    expect(id.slice(4, 14)).toBe(jobIdTime(at));
    expect(jobIdInstant(newJobId(at + 1))).toBe(at + 1);
  });
});
