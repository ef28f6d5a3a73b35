import OpenAI from "openai";
import sharp from "sharp";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { stabilitySeed } from "../../lib/providers/bedrock.ts";
import { type FakeBedrock, inpaintColour, startFakeBedrock } from "../support/fake-bedrock.ts";
import { type FakeOpenAI, openaiError, startFakeOpenAI } from "../support/fake-openai.ts";
import { httpClient, type Json } from "../support/http.ts";
import { type ServiceStack, startServiceStack } from "../support/service-stack.ts";

// Several providers behind one API: OpenAI, Amazon Bedrock and a named OpenAI-compatible upstream, each a fake
// speaking its real protocol (the openai SDK and the real BedrockRuntimeClient do the talking). A job's `model`
// alone picks the provider; fallback, cost and budgets are checked on the job and in /admin/usage.

const adminKey = "sk-admin-providers-0123456789abcdefghij";
const studioKey = "sk-studio-upstream-key-0123456789";
const core = "stability.stable-image-core-v1:1";
const ultra = "stability.stable-image-ultra-v1:1";
const inpaint = "stability.stable-image-inpaint-v1:0";
const cutOut = "stability.stable-image-remove-background-v1:0";

let service: ServiceStack;
let openai: FakeOpenAI;
let studio: FakeOpenAI;
let bedrock: FakeBedrock;

const client = (tenant: string) => httpClient(service.url, service.keys[tenant]);
const admin = () => httpClient(service.url, adminKey);

/** Submits a job and waits for its outcome (Prefer: wait). */
async function run(tenant: string, operation: string, input: Record<string, unknown>) {
  return client(tenant).post("/v1/jobs", { operation, input }, { prefer: "wait=20" });
}

async function pixel(url: string, x: number, y: number) {
  const bytes = Buffer.from(await (await fetch(url)).arrayBuffer());
  const { data, info } = await sharp(bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const p = (y * info.width + x) * 4;
  return {
    r: data[p],
    g: data[p + 1],
    b: data[p + 2],
    a: data[p + 3],
    width: info.width,
    height: info.height,
  };
}

beforeAll(async () => {
  [openai, studio, bedrock] = await Promise.all([startFakeOpenAI(), startFakeOpenAI(), startFakeBedrock()]);
  service = await startServiceStack({
    tenants: ["acme", "other", "budgeted"],
    env: {
      ADMIN_API_KEY: adminKey,
      OPENAI_API_KEY: "sk-openai-provider-key-0123456789",
      OPENAI_BASE_URL: openai.baseURL,
      BEDROCK_REGION: "us-east-1",
      AWS_ENDPOINT_URL_BEDROCK_RUNTIME: bedrock.endpoint,
      STUDIO_API_KEY: studioKey,
      OPENAI_COMPATIBLE_UPSTREAMS: JSON.stringify([
        {
          name: "studio",
          base_url: studio.baseURL,
          api_key_env: "STUDIO_API_KEY",
          models: [
            {
              id: "studio-xl",
              upstream_id: "sdxl-1.0",
              operations: ["generate"],
              sizes: ["512x512", "1024x1024"],
              max_images_per_call: 4,
              price_per_image_usd: 0.002,
            },
          ],
        },
      ]),
      MODEL_FALLBACKS: JSON.stringify({ "gpt-image-2": [core] }),
      TENANT_DEFAULT_MODELS: JSON.stringify({ acme: "studio-xl" }),
      TENANT_MONTHLY_BUDGETS_USD: JSON.stringify({ budgeted: 0.1 }),
      PROVIDER_MAX_RETRIES: "1",
    },
  });
});
afterAll(async () => {
  await service?.close();
  await Promise.all([openai?.close(), studio?.close(), bedrock?.close()]);
});
beforeEach(() => {
  openai.requests.length = 0;
  studio.requests.length = 0;
  bedrock.requests.length = 0;
});

describe("routing by model", () => {
  it("lists the models of every configured provider", async () => {
    const res = await client("other").get("/v1/models");
    const byId = new Map<string, Json>(res.body.data.map((m: Json) => [m.id, m]));
    expect(byId.get("gpt-image-2")?.served_by).toBe("openai");
    expect(byId.get(core)?.served_by).toBe("bedrock");
    expect(byId.get(cutOut)?.operations).toEqual(["remove_background"]);
    expect(byId.get("studio-xl")?.served_by).toBe("studio");
    expect(byId.get("studio-xl")?.pricing).toEqual({ per_image_usd: { "*": 0.002 } });
    expect(byId.get(core)?.pricing).toEqual({ per_image_usd: { "*": 0.04 } });
    expect(byId.get("gpt-image-2")?.pricing.per_million_tokens_usd).toEqual({ input: 8, output: 30 });
  });

  it("retrieves one model with the openai SDK, as the list shows it; a model not listed is a 404", async () => {
    const sdk = new OpenAI({ apiKey: service.keys.other, baseURL: `${service.url}/v1`, maxRetries: 0 });
    const listed = (await client("other").get("/v1/models")).body.data as Json[];
    for (const id of ["gpt-image-2", core, "studio-xl"]) {
      const model = await sdk.models.retrieve(id);
      expect(model).toMatchObject({ id, object: "model", created: 0 });
      expect(model).toEqual(listed.find((m) => m.id === id));
    }
    const refusal = (id: string) =>
      sdk.models.retrieve(id).then(
        () => expect.unreachable(`${id} was found`),
        (err: unknown) => {
          expect(err).toBeInstanceOf(OpenAI.NotFoundError);
          const { status, code, param, message } = err as InstanceType<typeof OpenAI.NotFoundError>;
          return { status, code, param, message };
        },
      );
    expect(await refusal("no-such-model")).toMatchObject({
      status: 404,
      code: "model_not_found",
      param: "model",
      message: expect.stringContaining("'no-such-model' does not exist"),
    });
    // Shut down: the list leaves it out, and the 404 names its replacement (catalog data).
    expect(listed.map((m) => m.id)).not.toContain("dall-e-2");
    expect(await refusal("dall-e-2")).toMatchObject({
      status: 404,
      code: "model_not_found",
      message: expect.stringMatching(/shut down on 2026-05-12\. Use 'gpt-image-2' instead/),
    });
  });

  it("switches a job between OpenAI, Bedrock and a custom upstream by `model` alone", async () => {
    const prompt = "a lighthouse at dawn";
    const [viaOpenAI, viaBedrock, viaStudio] = await Promise.all([
      run("other", "generate", { prompt, model: "gpt-image-2", size: "1024x1024", quality: "low" }),
      run("other", "generate", { prompt, model: core, size: "1600x900" }),
      run("other", "generate", { prompt, model: "studio-xl", size: "512x512", n: 2 }),
    ]);
    for (const res of [viaOpenAI, viaBedrock, viaStudio]) expect(res.body.status).toBe("succeeded");

    expect(viaOpenAI.body).toMatchObject({ provider: "openai", model: "gpt-image-2" });
    expect(viaOpenAI.body.output.images[0]).toMatchObject({ provider: "openai", model: "gpt-image-2" });
    expect(openai.requests).toHaveLength(1);
    // The fake reports 10 input and 100 output tokens: priced by tokens, not per image.
    expect(viaOpenAI.body.cost_usd).toBeCloseTo((10 * 8 + 100 * 30) / 1e6, 9);

    // Bedrock: the size became the nearest aspect ratio, the body is Stability's, the image is its size.
    expect(viaBedrock.body).toMatchObject({ provider: "bedrock", model: core, cost_usd: 0.04 });
    expect(viaBedrock.body.input.size).toBe("1344x768");
    expect(viaBedrock.body.output.images[0]).toMatchObject({ width: 1344, height: 768, provider: "bedrock" });
    expect(bedrock.requests).toHaveLength(1);
    expect(bedrock.requests[0]?.modelId).toBe(core);
    expect(bedrock.requests[0]?.body).toEqual({
      prompt,
      aspect_ratio: "16:9",
      seed: stabilitySeed(`${viaBedrock.body.id}:0`, 0),
      output_format: "png",
    });

    // The upstream: its own URL, key and model name; its price from configuration.
    expect(viaStudio.body).toMatchObject({ provider: "studio", model: "studio-xl", cost_usd: 0.004 });
    expect(studio.requests).toHaveLength(1);
    expect(studio.requests[0]?.json?.model).toBe("sdxl-1.0");
    expect(studio.requests[0]?.headers.authorization).toBe(`Bearer ${studioKey}`);
    expect(openai.requests.some((r) => r.headers.authorization?.includes(studioKey))).toBe(false);
  });

  it("makes n Bedrock images with n calls, each with its own seed derived from the job", async () => {
    const res = await run("other", "generate", {
      prompt: "two takes",
      model: ultra,
      n: 2,
      aspect_ratio: "1:1",
    });
    expect(res.body.status).toBe("succeeded");
    expect(res.body.output.images).toHaveLength(2);
    const seeds = bedrock.requests.map((r) => r.body.seed).sort();
    const expected = [0, 1].map((call) => stabilitySeed(`${res.body.id}:${call}`, 0)).sort();
    expect(seeds).toEqual(expected);
    expect(new Set(seeds).size).toBe(2);
    expect(res.body.cost_usd).toBeCloseTo(0.28, 9);
  });

  it("gives a tenant its default model when the request names none", async () => {
    const res = await run("acme", "generate", { prompt: "default" });
    expect(res.body).toMatchObject({ status: "succeeded", model: "studio-xl", provider: "studio" });
    expect(studio.requests).toHaveLength(1);
  });

  it("refuses an operation the model cannot do, naming the parameter", async () => {
    const res = await client("other").post("/v1/jobs", {
      operation: "remove_background",
      input: { model: "gpt-image-2", image: "data:image/png;base64,AAAA" },
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ param: "input.model", code: "unsupported_operation" });
  });
});

describe("Bedrock faults", () => {
  it("retries throttling and succeeds", async () => {
    bedrock.script({ error: "ThrottlingException", status: 429, message: "Too many requests" });
    const res = await run("other", "generate", { prompt: "busy", model: core });
    expect(res.body.status).toBe("succeeded");
    expect(bedrock.requests).toHaveLength(2);
  });

  it("fails a filtered prompt as a content policy violation, without retrying", async () => {
    bedrock.script({ finishReason: "Filter reason: prompt" });
    const res = await run("other", "generate", { prompt: "refused", model: core });
    expect(res.body.status).toBe("failed");
    expect(res.body.error.code).toBe("content_policy_violation");
    expect(bedrock.requests).toHaveLength(1);
  });

  it("fails a ValidationException as an invalid request", async () => {
    bedrock.script({ error: "ValidationException", status: 400, message: "prompt is too long" });
    const res = await run("other", "generate", { prompt: "bad", model: core });
    expect(res.body.status).toBe("failed");
    expect(res.body.error.code).toBe("invalid_request_error");
    expect(res.body.error.message).toContain("prompt is too long");
  });
});

describe("fallback", () => {
  it("runs the next model when the first provider is down, and the job records which made the images", async () => {
    const down = openaiError(503, "The server is overloaded", null, "server_error");
    openai.script(down, down);
    const res = await run("other", "generate", {
      prompt: "fallback",
      model: "gpt-image-2",
      size: "1536x1024",
    });
    expect(res.body.status).toBe("succeeded");
    expect(openai.requests).toHaveLength(2); // the first try and its one retry
    expect(bedrock.requests).toHaveLength(1);
    expect(bedrock.requests[0]?.body.aspect_ratio).toBe("3:2");
    expect(res.body).toMatchObject({ model: "gpt-image-2", provider: "bedrock", cost_usd: 0.04 });
    expect(res.body.output.images[0]).toMatchObject({ provider: "bedrock", model: core });
    expect(res.body.fallbacks).toEqual([
      {
        model: "gpt-image-2",
        provider: "openai",
        failure: "unavailable",
        message: "The server is overloaded",
      },
    ]);
  });

  it("does not fall back on a moderation refusal", async () => {
    openai.script(openaiError(400, "Your request was rejected by the safety system.", "moderation_blocked"));
    const res = await run("other", "generate", { prompt: "no", model: "gpt-image-2" });
    expect(res.body.status).toBe("failed");
    expect(res.body.error.code).toBe("content_policy_violation");
    expect(bedrock.requests).toHaveLength(0);
  });
});

describe("Bedrock edits", () => {
  it("turns OpenAI's alpha mask into Stability's white-means-edit mask, pixel for pixel", async () => {
    const image = await sharp({ create: { width: 64, height: 32, channels: 3, background: "#cc2020" } })
      .png()
      .toBuffer();
    // Transparent (edit here) on the left half, opaque on the right.
    const alpha = Buffer.alloc(64 * 32 * 4);
    for (let y = 0; y < 32; y++) for (let x = 32; x < 64; x++) alpha[(y * 64 + x) * 4 + 3] = 255;
    const mask = await sharp(alpha, { raw: { width: 64, height: 32, channels: 4 } })
      .png()
      .toBuffer();
    const res = await run("other", "edit", {
      model: inpaint,
      prompt: "a green door",
      image: `data:image/png;base64,${image.toString("base64")}`,
      mask: `data:image/png;base64,${mask.toString("base64")}`,
    });
    expect(res.body.status).toBe("succeeded");
    expect(bedrock.requests).toHaveLength(1);
    const sent = bedrock.requests[0]?.body as Json;
    expect(Object.keys(sent).sort()).toEqual(["image", "mask", "output_format", "prompt", "seed"]);
    const maskBytes = Buffer.from(sent.mask, "base64");
    expect(await sharp(maskBytes).metadata()).toMatchObject({ format: "png", channels: 1, space: "b-w" });
    const bw = await sharp(maskBytes).extractChannel(0).raw().toBuffer();
    // Row 0: the left half (transparent in OpenAI's mask) white, the right half black; row 31 alike.
    expect([bw[0], bw[31], bw[32], bw[63], bw[31 * 64], bw[31 * 64 + 63]]).toEqual([255, 255, 0, 0, 255, 0]);
    // The output: painted where the mask was transparent, untouched where it was opaque.
    const url = res.body.output.images[0].url;
    expect(await pixel(url, 5, 5)).toMatchObject({ ...inpaintColour, a: 255 });
    expect(await pixel(url, 50, 20)).toMatchObject({ r: 0xcc, g: 0x20, b: 0x20 });
  });

  it("removes a background with Bedrock's model, and offline with the placeholder", async () => {
    const image = await sharp({ create: { width: 40, height: 40, channels: 3, background: "#ffffff" } })
      .composite([
        {
          input: await sharp({ create: { width: 20, height: 20, channels: 3, background: "#2050d0" } })
            .png()
            .toBuffer(),
          left: 10,
          top: 10,
        },
      ])
      .png()
      .toBuffer();
    const input = { image: `data:image/png;base64,${image.toString("base64")}` };
    const [viaBedrock, offline] = await Promise.all([
      run("other", "remove_background", { ...input, model: cutOut }),
      run("other", "remove_background", { ...input, model: "placeholder" }),
    ]);
    expect(bedrock.requests.map((r) => Object.keys(r.body).sort())).toEqual([["image", "output_format"]]);
    for (const res of [viaBedrock, offline]) {
      expect(res.body.status).toBe("succeeded");
      const url = res.body.output.images[0].url;
      expect(await pixel(url, 2, 2)).toMatchObject({ a: 0, width: 40, height: 40 });
      expect(await pixel(url, 20, 20)).toMatchObject({ r: 0x20, g: 0x50, b: 0xd0, a: 255 });
    }
    expect(viaBedrock.body).toMatchObject({ provider: "bedrock", cost_usd: 0.07 });
    expect(offline.body).toMatchObject({ provider: "placeholder", cost_usd: 0 });

    // The synchronous face, multipart as the edits endpoint takes it, answered as OpenAI's ImagesResponse.
    const form = new FormData();
    form.set("model", cutOut);
    form.set("image", new Blob([new Uint8Array(image)], { type: "image/png" }), "subject.png");
    form.set("response_format", "b64_json");
    const sync = await fetch(`${service.url}/v1/images/remove-background`, {
      method: "POST",
      headers: { authorization: `Bearer ${service.keys.other}` },
      body: form,
    });
    expect(sync.status).toBe(200);
    const body = (await sync.json()) as Json;
    const png = Buffer.from(body.data[0].b64_json, "base64");
    const corner = await sharp(png).ensureAlpha().raw().toBuffer();
    expect(corner[3]).toBe(0);
    expect(body.output_format).toBe("png");
  });
});

describe("cost accounting", () => {
  it("sums each tenant's job costs per model and day in /admin/usage", async () => {
    const jobs = await Promise.all([
      run("budgeted", "generate", { prompt: "a", model: core }),
      run("budgeted", "generate", { prompt: "b", model: "studio-xl", n: 3 }),
    ]);
    const costs = jobs.map((j) => j.body.cost_usd as number);
    expect(costs).toEqual([0.04, 0.006]);
    const usage = await admin().get("/admin/usage?tenant=budgeted");
    expect(usage.status).toBe(200);
    expect(usage.body.total).toMatchObject({ jobs: 2, images: 4 });
    expect(usage.body.total.cost_usd).toBeCloseTo(0.046, 9);
    const byModel = Object.fromEntries(usage.body.by_model.map((m: Json) => [m.model, m.cost_usd]));
    expect(byModel).toEqual({ [core]: 0.04, "studio-xl": 0.006 });
    const today = new Date().toISOString().slice(0, 10);
    expect(usage.body.data.every((r: Json) => r.date === today && typeof r.cost_usd === "number")).toBe(true);
  });

  it("refuses new jobs with 429 budget_exceeded once a tenant's monthly budget is spent", async () => {
    // The tenant has spent $0.046 of $0.10 (previous test): an Ultra image ($0.14) takes it past.
    const spent = await run("budgeted", "generate", { prompt: "c", model: ultra });
    expect(spent.body.status).toBe("succeeded");
    const refused = await client("budgeted").post("/v1/jobs", {
      operation: "generate",
      input: { prompt: "d" },
    });
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ type: "rate_limit_error", code: "budget_exceeded" });
    expect(refused.headers.get("x-should-retry")).toBe("false");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    // Other tenants are unaffected.
    const other = await client("other").post("/v1/jobs", {
      operation: "generate",
      input: { prompt: "e", model: core },
    });
    expect(other.status).toBe(202);
  });
});
