import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog, nearestSize, sizeProblem } from "../../lib/catalog/catalog.ts";
import { estimateCostMicroUsd, fromMicroUsd, prices } from "../../lib/catalog/prices.ts";
import { type FakeOpenAI, fakeImage, startFakeOpenAI } from "../support/fake-openai.ts";
import { httpClient, type Json } from "../support/http.ts";
import { type ImageHost, startImageHost } from "../support/image-host.ts";
import { picture } from "../support/images.ts";
import { type ServiceStack, startServiceStack } from "../support/service-stack.ts";

// Backendless, Vision Studio and AIGNE Hub's APIs (lib/api/dialects) with the worker calling a fake OpenAI: each
// answers every error in its own shape, its requests are ordinary jobs of the jobs API (listed, canceled, priced,
// waited for like any other), and what reaches the provider is the jobs API's request, with the catalog's rules.

const gptImage2 = catalog.find((m) => m.id === "gpt-image-2");
if (!gptImage2) throw new Error("gpt-image-2 is not in the catalog");

describe("the dialects over the jobs API", () => {
  let svc: ServiceStack;
  let fake: FakeOpenAI;
  let host: ImageHost;
  let api: ReturnType<typeof httpClient>;
  const anonymous = () => httpClient(svc.url);
  /** Table rows are made before the image host has a port: "{host}" stands for it. */
  const withHost = (body: object) => JSON.parse(JSON.stringify(body).replaceAll("{host}", host.origin));
  const generations = () => fake.requests.filter((r) => r.path === "/v1/images/generations");

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    host = await startImageHost({ "/a.png": await picture(300, 200), "/b.png": await picture(200, 300) });
    svc = await startServiceStack({
      env: {
        OPENAI_API_KEY: "sk-test-provider-key-000000",
        OPENAI_BASE_URL: fake.baseURL,
        PROVIDER_MAX_RETRIES: "0",
        SYNC_WAIT_MS: "2000",
        CANCEL_CHECK_MS: "200",
      },
    });
    api = httpClient(svc.url, svc.keys.acme);
  });
  afterAll(async () => {
    await svc?.close();
    await fake?.close();
    await host?.close();
  });

  describe("errors, each in its API's own shape", () => {
    const backendless = "/api/services/OpenAIImageService";
    const vision = "/api/v1/openai/image";

    it.each([
      ["no key", `${backendless}/createImage`, { prompt: "x" }, 401, "invalid_api_key", /API key/],
      [
        "a bad field",
        `${backendless}/createImage`,
        { prompt: "x", numberOfImages: 11 },
        400,
        "invalid_request_error",
        /^Invalid 'numberOfImages': must be at most 10\.$/,
      ],
      [
        "an unknown field",
        `${backendless}/createImage`,
        { prompt: "x", n: 2 },
        400,
        "invalid_request_error",
        /^Unknown parameter: 'n'\.$/,
      ],
      [
        "a bad image, named as sent",
        `${backendless}/createImageVariation`,
        { imageUrl: "ftp://example.com/a.png" },
        400,
        "url_not_allowed",
        /^Invalid 'imageUrl': a URL must use http or https\.$/,
      ],
      [
        "an unknown method of the service",
        `${backendless}/createImages`,
        { prompt: "x" },
        404,
        "unknown_url",
        /No route/,
      ],
    ])("Backendless: %s", async (_, path, body, status, code, message) => {
      const client = status === 401 ? anonymous() : api;
      const res = await client.post(path, body);
      expect([res.status, res.body]).toEqual([status, { code, message: expect.stringMatching(message) }]);
    });

    it.each([
      ["no key", `${vision}/generation/generate-image`, { prompt: "x" }, 401, /API key/],
      [
        "a bad field",
        `${vision}/generation/generate-image`,
        { prompt: "x", aspect_ratio: "7:3" },
        400,
        /^Invalid 'aspect_ratio': must be one of/,
      ],
      [
        "two sources of one image",
        `${vision}/editing/edit-image`,
        { prompt: "x", image_url: "{host}/a.png", image_file: "aGk=" },
        400,
        /^Give either 'image_url' or 'image_file', not both\.$/,
      ],
      [
        "a file that is no image, named as sent",
        `${vision}/editing/inpaint`,
        { prompt: "x", image_file: "bm90IGFuIGltYWdl" },
        400,
        /^Invalid 'image_file': the image is not a PNG/,
      ],
      ["no image", `${vision}/editing/edit-image`, { prompt: "x" }, 400, /^'image_url' is required/],
      [
        "border-only without a border",
        `${vision}/editing/inpaint`,
        { prompt: "x", image_url: "https://example.com/a.png", inpaint_border_only: true },
        400,
        /^'border_percentage' is required/,
      ],
      [
        "a border out of range",
        `${vision}/editing/inpaint`,
        { prompt: "x", inpaint_border_only: true, border_percentage: 0.7 },
        400,
        /^Invalid 'border_percentage': must be at most 0\.5\.$/,
      ],
      ["an unknown path", `${vision}/editing/upscale`, { prompt: "x" }, 404, /No route/],
    ])("Vision Studio: %s", async (_, path, body, status, message) => {
      const client = status === 401 ? anonymous() : api;
      const res = await client.post(path, withHost(body));
      expect([res.status, res.body]).toEqual([
        status,
        { success: false, message: expect.stringMatching(message) },
      ]);
    });

    it.each([
      ["no key", { prompt: "x" }, 401, "invalid_api_key", /API key/],
      ["a bad size", { prompt: "x", size: "big" }, 400, null, /^Invalid 'size': must be WIDTHxHEIGHT/],
      [
        "an unknown model",
        { prompt: "x", model: "dall-e-9" },
        400,
        "model_not_found",
        /^The model 'dall-e-9' does not exist/,
      ],
      [
        "a bad image in a list, named as sent",
        { prompt: "x", image: ["{host}/a.png", "ftp://x/y.png"] },
        400,
        "url_not_allowed",
        /^Invalid 'image\[1\]'/,
      ],
    ])("AIGNE Hub: %s", async (_, body, status, code, message) => {
      const client = status === 401 ? anonymous() : api;
      const res = await client.post("/api/images/generations", withHost(body));
      expect([res.status, res.body]).toEqual([
        status,
        { error: { message: expect.stringMatching(message), type: expect.any(String), code } },
      ]);
    });

    it("answers wrong methods and content types in the dialect's shape; other paths in OpenAI's envelope", async () => {
      const get = await api.get(`${backendless}/createImage`);
      expect([get.status, get.headers.get("allow"), get.body.code]).toEqual([
        405,
        "POST",
        "method_not_allowed",
      ]);
      const text = await api.post(`${vision}/generation/generate-image`, "prompt=x", {
        "content-type": "text/plain",
      });
      expect([text.status, text.body]).toEqual([
        415,
        { success: false, message: expect.stringMatching(/Content-Type/) },
      ]);
      const aigne = await api.get("/api/images/nowhere");
      expect([aigne.status, Object.keys(aigne.body.error)]).toEqual([404, ["message", "type", "code"]]);
      for (const path of ["/v1/nowhere", "/api/services/Other/createImage", "/api/v2/openai/x"]) {
        const res = await api.post(path, {});
        expect([path, res.status, Object.keys(res.body.error)]).toEqual([
          path,
          404,
          ["message", "type", "param", "code"],
        ]);
      }
    });
  });

  describe("ordinary jobs", () => {
    it("delivers Backendless's 256x256 from the nearest size the model makes, priced at the size made", async () => {
      const made = nearestSize(gptImage2, { width: 256, height: 256 });
      // No token usage in the answer, so the job is priced per image, by area.
      fake.script({
        status: 200,
        body: {
          created: 1,
          data: [{ b64_json: (await fakeImage(made.width, made.height, "png")).toString("base64") }],
        },
      });
      const res = await api.post("/api/services/OpenAIImageService/createImage", {
        prompt: "a cat in a hat",
        size: "256x256",
        responseFormat: "b64_json",
      });
      expect(res.status).toBe(200);
      const meta = await sharp(Buffer.from(res.body[0], "base64")).metadata();
      expect([meta.width, meta.height]).toEqual([256, 256]);
      const asked = generations().at(-1)?.json ?? {};
      expect([asked.model, asked.size, sizeProblem(gptImage2, String(asked.size))]).toEqual([
        "gpt-image-2",
        `${made.width}x${made.height}`,
        undefined,
      ]);
      const job = (await api.get(`/v1/jobs/${res.headers.get("x-job-id")}`)).body;
      expect([job.operation, job.status, job.input.size, job.input.output_size]).toEqual([
        "generate",
        "succeeded",
        `${made.width}x${made.height}`,
        "256x256",
      ]);
      expect(job.output.images[0]).toMatchObject({ width: 256, height: 256, generated: made });
      const cost = fromMicroUsd(estimateCostMicroUsd(prices["gpt-image-2"], [made], undefined) ?? 0);
      expect([job.cost_usd, cost]).toEqual([cost, expect.any(Number)]);
      // Priced as delivered, it would cost a tenth as much.
      const delivered = estimateCostMicroUsd(prices["gpt-image-2"], [{ width: 256, height: 256 }], undefined);
      expect(cost).toBeGreaterThan(fromMicroUsd(delivered ?? 0) * 5);
    });

    it("lists dialect requests with the other jobs, and cancels one while its client waits", async () => {
      const listed = await api.get("/v1/jobs?operation=generate&status=succeeded");
      expect(listed.body.data.length).toBeGreaterThan(0);
      fake.setLatency(5_000);
      try {
        const waiting = api.post("/api/v1/openai/image/generation/generate-image", { prompt: "slow" });
        const running = await until(async () => {
          const page = await api.get("/v1/jobs?status=running&limit=1");
          return page.body.data[0] as Json | undefined;
        });
        const canceled = await api.post(`/v1/jobs/${running.id}/cancel`);
        expect([canceled.status, canceled.body.status]).toEqual([200, "canceled"]);
        const answered = await waiting;
        expect([answered.status, answered.headers.get("x-job-id"), answered.body]).toEqual([
          409,
          running.id,
          { success: false, message: "The job was canceled at the client's request." },
        ]);
      } finally {
        fake.setLatency(0);
      }
    });

    it("answers a wait that runs out with 504 job_pending in the dialect's shape; the job goes on", async () => {
      fake.setLatency(3_000);
      let id = "";
      try {
        const res = await api.post("/api/images/generations", { prompt: "slow", model: "gpt-image-2" });
        id = res.headers.get("x-job-id") ?? "";
        expect([res.status, res.headers.get("x-should-retry"), res.body.error.code]).toEqual([
          504,
          "false",
          "job_pending",
        ]);
        expect(res.body.error.message).toContain(`GET /v1/jobs/${id}`);
      } finally {
        fake.setLatency(0);
      }
      const done = await until(async () => {
        const job = (await api.get(`/v1/jobs/${id}`)).body;
        return job.status === "succeeded" ? job : undefined;
      });
      expect(done.output.images).toHaveLength(1);
    });
  });

  describe("what reaches the provider", () => {
    it("AIGNE Hub: a retired model is served by its replacement, with only the options that model has", async () => {
      const res = await api.post("/api/images/generations", {
        model: "dall-e-3",
        prompt: "a skyline",
        size: "1792x1024",
        quality: "hd",
        style: "vivid",
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ created: expect.any(Number), data: [{ url: expect.any(String) }] });
      const asked = generations().at(-1)?.json ?? {};
      expect([asked.model, asked.size, asked.quality, asked.style]).toEqual([
        "gpt-image-2",
        "1792x1024",
        undefined,
        undefined,
      ]);
      // A quality the serving model has is kept.
      await api.post("/api/images/generations", { prompt: "x", quality: "high" });
      expect(generations().at(-1)?.json?.quality).toBe("high");
    });

    it("AIGNE Hub: image, one or several, makes the request an edit", async () => {
      const res = await api.post("/api/images/generations", {
        prompt: "both",
        image: [`${host.origin}/a.png`, `${host.origin}/b.png`],
        response_format: "b64_json",
      });
      expect([res.status, res.body.data.length]).toEqual([200, 1]);
      const edit = fake.requests.filter((r) => r.path === "/v1/images/edits").at(-1);
      expect(edit?.form?.files["image[]"]).toHaveLength(2);
      expect(edit?.form?.fields.model).toEqual(["gpt-image-2"]);
      const meta = await sharp(Buffer.from(res.body.data[0].b64_json, "base64")).metadata();
      expect([meta.width, meta.height]).toEqual([1024, 1024]);
    });

    it("output_size is a job option of every API: /v1/images/generations delivers any size too", async () => {
      const res = await api.post("/v1/images/generations", {
        prompt: "a banner",
        output_size: "300x100",
        response_format: "b64_json",
      });
      expect(res.status).toBe(200);
      const meta = await sharp(Buffer.from(res.body.data[0].b64_json, "base64")).metadata();
      expect([meta.width, meta.height, res.body.size]).toEqual([300, 100, "300x100"]);
      const asked = String(generations().at(-1)?.json?.size);
      expect(sizeProblem(gptImage2, asked)).toBeUndefined();
      const bad = await api.post("/v1/images/generations", { prompt: "x", output_size: "8x8" });
      expect([bad.status, bad.body.error.param]).toEqual([400, "output_size"]);
    });
  });
});

async function until<T>(probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("Condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}
