import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { catalog, nearestSize, sizeProblem } from "../../lib/catalog/catalog.ts";
import { estimateCostMicroUsd, priceFor, priceOf, prices } from "../../lib/catalog/prices.ts";
import { ConfigError, configSecrets, loadConfig } from "../../lib/config.ts";
import { blackWhiteMask } from "../../lib/images/mask.ts";
import { stabilitySeed } from "../../lib/providers/bedrock.ts";
import { cutOut } from "../../lib/providers/placeholder.ts";
import { createRegistry, routedProviders } from "../../lib/runtime.ts";

const base = {
  JOBS_TABLE: "t",
  IMAGES_BUCKET: "b",
  JOBS_QUEUE_URL: "http://q/jobs",
  WEBHOOKS_QUEUE_URL: "http://q/webhooks",
};
const model = (id: string) => catalog.find((m) => m.id === id) ?? (undefined as never);
const core = model("stability.stable-image-core-v1:1");

describe("Stability's aspect ratios", () => {
  it("accept any size and make the nearest ratio's own size", () => {
    expect(sizeProblem(core, "1000x600")).toBeUndefined();
    expect(sizeProblem(core, "wide")).toMatch(/WIDTHxHEIGHT/);
    expect(nearestSize(core, { width: 1600, height: 900 })).toEqual({ width: 1344, height: 768 });
    expect(nearestSize(core, { width: 1024, height: 1536 })).toEqual({ width: 832, height: 1216 });
    expect(nearestSize(core, { width: 3000, height: 1000 })).toEqual({ width: 1536, height: 640 });
    expect(nearestSize(core, { width: 500, height: 500 })).toEqual({ width: 1024, height: 1024 });
  });

  it("seed each image from the job and its index, within Stability's range", () => {
    expect(stabilitySeed("job_a:0", 0)).toBe(stabilitySeed("job_a:0", 0));
    expect(stabilitySeed("job_a:0", 0)).not.toBe(stabilitySeed("job_a:1", 0));
    expect(stabilitySeed("job_a:0", 0)).not.toBe(stabilitySeed("job_a:0", 1));
    for (let i = 0; i < 50; i++) expect(stabilitySeed(`s${i}`, i)).toBeLessThanOrEqual(4_294_967_294);
  });
});

describe("mask conversion", () => {
  it("turns OpenAI's alpha mask (0 = edit) into Stability's grey mask (white = edit), soft edges kept", async () => {
    const alpha = [0, 255, 128, 0];
    const rgba = Buffer.alloc(16);
    alpha.forEach((a, i) => {
      rgba[i * 4 + 3] = a;
    });
    const mask = await sharp(rgba, { raw: { width: 2, height: 2, channels: 4 } })
      .png()
      .toBuffer();
    const out = await blackWhiteMask(mask, { width: 2, height: 2 });
    expect(await sharp(out).metadata()).toMatchObject({ channels: 1, width: 2, height: 2 });
    expect([...(await sharp(out).extractChannel(0).raw().toBuffer())]).toEqual([255, 0, 127, 255]);
  });

  it("is all white without a mask (the whole image may change) and scales to the size asked", async () => {
    const out = await blackWhiteMask(undefined, { width: 3, height: 1 });
    expect([...(await sharp(out).extractChannel(0).raw().toBuffer())]).toEqual([255, 255, 255]);
  });
});

describe("prices", () => {
  it("price by tokens where the provider reports them, else per image by quality and area", () => {
    const gpt = prices["gpt-image-2"];
    const usage = { inputTokens: 1000, outputTokens: 4000, totalTokens: 5000 };
    expect(estimateCostMicroUsd(gpt, [{ width: 1024, height: 1024 }], "high", usage)).toBe(8_000 + 120_000);
    expect(estimateCostMicroUsd(gpt, [{ width: 1024, height: 1024 }], "low")).toBe(6_000);
    // Twice the pixels, twice the price; two images, two prices.
    expect(estimateCostMicroUsd(gpt, [{ width: 2048, height: 1024 }], "low")).toBe(12_000);
    expect(
      estimateCostMicroUsd(
        prices["stability.stable-image-ultra-v1:1"],
        [
          { width: 1024, height: 1024 },
          { width: 1344, height: 768 },
        ],
        undefined,
      ),
    ).toBe(280_000);
    expect(estimateCostMicroUsd(undefined, [{ width: 1, height: 1 }], undefined)).toBeUndefined();
  });

  it("price what the provider that made the images charges: a stand-in placeholder costs nothing", () => {
    const gpt = catalog.find((m) => m.id === "gpt-image-2");
    if (!gpt) throw new Error("gpt-image-2 is not catalogued");
    expect(priceFor(gpt, "openai")).toBe(prices["gpt-image-2"]);
    const standIn = priceFor(gpt, "placeholder");
    expect(estimateCostMicroUsd(standIn, [{ width: 1024, height: 1024 }], "high")).toBe(0);
  });

  it("price every live catalogued model; an alias costs what its model costs", () => {
    for (const m of catalog.filter((m) => m.shutdownOn === undefined))
      expect([m.id, priceOf(m)]).toEqual([m.id, expect.anything()]);
    const snapshot = catalog.find((m) => m.id === "gpt-image-2-2026-04-21");
    expect(snapshot && priceOf(snapshot)).toBe(prices["gpt-image-2"]);
    expect(prices["gpt-image-2-2026-04-21"]).toBeUndefined();
  });
});

describe("the placeholder's background removal", () => {
  it("makes the border colour transparent and keeps the subject, deterministically", async () => {
    const subject = await sharp({ create: { width: 4, height: 4, channels: 3, background: "#d02020" } })
      .png()
      .toBuffer();
    const image = await sharp({ create: { width: 12, height: 12, channels: 3, background: "#f0f0f0" } })
      .composite([{ input: subject, left: 4, top: 4 }])
      .png()
      .toBuffer();
    const out = await cutOut(image, "png");
    expect(out.equals(await cutOut(image, "png"))).toBe(true);
    const { data } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) => [...data.subarray((y * 12 + x) * 4, (y * 12 + x) * 4 + 4)];
    expect(at(0, 0)[3]).toBe(0);
    expect(at(11, 6)[3]).toBe(0);
    expect(at(5, 5)).toEqual([0xd0, 0x20, 0x20, 255]);
  });
});

describe("provider configuration", () => {
  const upstreams = (value: unknown) => JSON.stringify(value);

  it("reads upstreams, their keys from the variables they name, and keeps the keys for redaction", () => {
    const config = loadConfig({
      ...base,
      LAB_KEY: "sk-lab-secret-0123456789",
      OPENAI_COMPATIBLE_UPSTREAMS: upstreams([
        { name: "lab", base_url: "http://lab:8000/v1", api_key_env: "LAB_KEY", models: [{ id: "lab-1" }] },
      ]),
    });
    expect(config.OPENAI_COMPATIBLE_UPSTREAMS?.[0]).toMatchObject({
      name: "lab",
      api_key: "sk-lab-secret-0123456789",
      models: [{ id: "lab-1", operations: ["generate"], max_images_per_call: 1, output_formats: ["png"] }],
    });
    expect(configSecrets(config)).toContain("sk-lab-secret-0123456789");
  });

  it("fails fast, naming the variable, on bad JSON, bad capabilities, a missing key or a clash", () => {
    const load = (env: Record<string, string>) => () => loadConfig({ ...base, ...env });
    expect(load({ OPENAI_COMPATIBLE_UPSTREAMS: "[{" })).toThrow(
      /OPENAI_COMPATIBLE_UPSTREAMS is not valid JSON/,
    );
    expect(
      load({
        OPENAI_COMPATIBLE_UPSTREAMS: upstreams([
          { name: "lab", base_url: "http://lab/v1", models: [{ id: "x", operations: ["dream"] }] },
        ]),
      }),
    ).toThrow(/OPENAI_COMPATIBLE_UPSTREAMS\[0\]\.models\[0\]\.operations\[0\] must be one of/);
    expect(
      load({
        OPENAI_COMPATIBLE_UPSTREAMS: upstreams([
          { name: "lab", base_url: "http://lab/v1", api_key_env: "NOPE", models: [{ id: "x" }] },
        ]),
      }),
    ).toThrow(/reads its key from NOPE, which is not set/);
    expect(
      load({
        OPENAI_COMPATIBLE_UPSTREAMS: upstreams([
          { name: "openai", base_url: "http://lab/v1", models: [{ id: "x" }] },
        ]),
      }),
    ).toThrow(ConfigError);
    expect(load({ TENANT_MONTHLY_BUDGETS_USD: '{"acme": -1}' })).toThrow(
      /TENANT_MONTHLY_BUDGETS_USD\.acme|TENANT_MONTHLY_BUDGETS_USD\["acme"\]|TENANT_MONTHLY_BUDGETS_USD\[.acme.\]/,
    );
    expect(load({ BEDROCK_REGION: "Virginia" })).toThrow(/BEDROCK_REGION/);
    // Kept sources stay under the tenant's own prefix: no climbing out of it, no absolute paths.
    for (const folder of ["../other", "a/../../b", "/abs", "a//b", "a/", ".", "a b"]) {
      expect(load({ TENANT_SOURCE_FOLDERS: JSON.stringify({ acme: folder }) })).toThrow(
        /TENANT_SOURCE_FOLDERS/,
      );
    }
    expect(
      loadConfig({ ...base, TENANT_SOURCE_FOLDERS: '{"acme":"backendless/images","*":"saved.sources_1"}' })
        .TENANT_SOURCE_FOLDERS,
    ).toEqual({ acme: "backendless/images", "*": "saved.sources_1" });
  });

  it("refuses, at cold start, a default, fallback or upstream model that does not exist", () => {
    const registry = (env: Record<string, string>) => () => {
      const config = loadConfig({ ...base, ...env });
      return createRegistry(config, routedProviders(config));
    };
    expect(registry({ TENANT_DEFAULT_MODELS: '{"acme":"dall-e-9"}' })).toThrow(
      /'dall-e-9' \(the default of tenant acme\)/,
    );
    expect(registry({ MODEL_FALLBACKS: '{"gpt-image-2":["nope"]}' })).toThrow(
      /'nope' \(the fallbacks of gpt-image-2\)/,
    );
    expect(
      registry({
        OPENAI_COMPATIBLE_UPSTREAMS: upstreams([
          { name: "lab", base_url: "http://lab/v1", models: [{ id: "gpt-image-2" }] },
        ]),
      }),
    ).toThrow(/'gpt-image-2' of provider lab is already defined/);
  });

  it("offers Bedrock's models only with BEDROCK_REGION, limited to BEDROCK_MODELS", () => {
    const ids = (env: Record<string, string>) => {
      const config = loadConfig({ ...base, ...env });
      return createRegistry(config, routedProviders(config))
        .list()
        .map((r) => r.model.id)
        .filter((id) => id.startsWith("stability."));
    };
    expect(ids({})).toEqual([]);
    expect(ids({ BEDROCK_REGION: "us-east-1" })).toHaveLength(5);
    expect(ids({ BEDROCK_REGION: "us-east-1", BEDROCK_MODELS: "stability.sd3-5-large-v1:0" })).toEqual([
      "stability.sd3-5-large-v1:0",
    ]);
  });

  it("maps a retired model to its live replacement for APIs whose documented models were retired", () => {
    const config = loadConfig(base);
    const registry = createRegistry(config, routedProviders(config));
    expect(
      ["dall-e-2", "dall-e-3", "gpt-image-1", "gpt-image-2", "placeholder", "dall-e-9"].map((id) =>
        registry.current(id),
      ),
    ).toEqual(["gpt-image-2", "gpt-image-2", "gpt-image-2", "gpt-image-2", "placeholder", "dall-e-9"]);
  });

  it("gives tenants their default and chains fallbacks that can do the operation", () => {
    const config = loadConfig({
      ...base,
      OPENAI_API_KEY: "sk-test-0123456789",
      BEDROCK_REGION: "us-east-1",
      TENANT_DEFAULT_MODELS: '{"acme":"stability.sd3-5-large-v1:0"}',
      MODEL_FALLBACKS:
        '{"gpt-image-2":["stability.stable-image-core-v1:1","stability.stable-image-inpaint-v1:0"]}',
    });
    const registry = createRegistry(config, routedProviders(config));
    expect(registry.defaultFor("acme")).toBe("stability.sd3-5-large-v1:0");
    expect(registry.defaultFor("other")).toBe(registry.defaultModel);
    expect(registry.chain("gpt-image-2", "generate").map((r) => r.model.id)).toEqual([
      "gpt-image-2",
      "stability.stable-image-core-v1:1",
    ]);
    expect(registry.chain("gpt-image-2", "edit").map((r) => r.model.id)).toEqual([
      "gpt-image-2",
      "stability.stable-image-inpaint-v1:0",
    ]);
  });
});
