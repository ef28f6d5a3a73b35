import OpenAI from "openai";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeOpenAI, startFakeOpenAI } from "../support/fake-openai.ts";
import { httpClient } from "../support/http.ts";
import { openaiClient } from "../support/openai.ts";
import { assertImageStreamEvent } from "../support/openai-schemas.ts";
import { type SandboxProcess, startSandboxProcess } from "../support/sandbox-process.ts";

// The service as a newcomer meets it: `npm start`, then the official SDK pointed at it.

describe("sandbox with the placeholder provider", () => {
  let sandbox: SandboxProcess;
  let client: OpenAI;

  beforeAll(async () => {
    sandbox = await startSandboxProcess();
    client = openaiClient(`${sandbox.url}/v1`, sandbox.key);
  });
  afterAll(async () => {
    await sandbox?.stop();
  });

  it("prints the API URL, the key, the emulator endpoint and the active provider", () => {
    expect(sandbox.output()).toMatch(/Provider\s+placeholder/);
    expect(sandbox.output()).toMatch(
      /Emulators\s+S3 \+ SQS http:\/\/127\.0\.0\.1:\d+, DynamoDB http:\/\/127\.0\.0\.1:\d+/,
    );
    expect(sandbox.key).toMatch(/^sk-img-/);
  });

  it("generates n=2 images as OpenAI answers, base64 PNGs of the requested size (the README's first example)", async () => {
    const result = await client.images.generate({ prompt: "a lighthouse at dawn", n: 2, size: "1536x1024" });
    expect(result.data).toHaveLength(2);
    for (const img of result.data ?? []) {
      const meta = await sharp(Buffer.from(img.b64_json ?? "", "base64")).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(["png", 1536, 1024]);
    }
    // Deterministic per job, distinct per image.
    expect(result.data?.[0]?.b64_json).not.toEqual(result.data?.[1]?.b64_json);
  });

  it("answers with URLs of the images in the bucket when asked for response_format url", async () => {
    const res = await client.images.generate({
      prompt: "a lighthouse",
      size: "1024x1024",
      response_format: "url",
    });
    const url = res.data?.[0]?.url as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/.+output-0\.png\?X-Amz-/);
    const download = await fetch(url);
    expect(download.status).toBe(200);
    expect((await sharp(Buffer.from(await download.arrayBuffer())).metadata()).width).toBe(1024);
  });

  it("returns b64_json in the requested format, and the job id in x-job-id", async () => {
    const { data, response } = await client.images
      .generate({
        prompt: "a red kite",
        response_format: "b64_json",
        output_format: "webp",
        size: "1024x1024",
      })
      .withResponse();
    const bytes = Buffer.from(data.data?.[0]?.b64_json ?? "", "base64");
    expect((await sharp(bytes).metadata()).format).toBe("webp");
    expect(response.headers.get("x-job-id")).toMatch(/^job_/);
  });

  it("rejects a bad n with a 400 that names n, and creates no job", async () => {
    const err = await client.images.generate({ prompt: "x", n: 11 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("n");
  });

  it("rejects a missing or wrong key with 401", async () => {
    const res = await httpClient(sandbox.url).get("/v1/models");
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("invalid_api_key");
    const wrong = new OpenAI({
      apiKey: "sk-img-not-a-real-key-000000",
      baseURL: `${sandbox.url}/v1`,
      maxRetries: 0,
    });
    await expect(wrong.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it("lists the models, with the default first-class and stand-ins marked", async () => {
    const models = await client.models.list();
    const ids = models.data.map((m) => m.id);
    expect(ids).toContain("gpt-image-2");
    expect(ids).not.toContain("dall-e-3");
  });

  it("streams partial images live with stream: true, as the Function URL does", async () => {
    // The placeholder paces its previews (PLACEHOLDER_PARTIAL_INTERVAL_MS, 250 ms): each arrives as it is made.
    const received: { type: string; at: number }[] = [];
    const stream = await client.images.generate({
      prompt: "a fox",
      size: "1024x1024",
      stream: true,
      partial_images: 2,
    });
    for await (const event of stream) {
      assertImageStreamEvent(event);
      received.push({ type: event.type, at: Date.now() });
    }
    expect(received.map((e) => e.type)).toEqual([
      "image_generation.partial_image",
      "image_generation.partial_image",
      "image_generation.completed",
    ]);
    expect((received[2]?.at ?? 0) - (received[0]?.at ?? 0)).toBeGreaterThan(300);
  });

  it("serves /health without a key", async () => {
    const res = await httpClient(sandbox.url).get("/health");
    expect(res.body).toEqual({ status: "ok" });
  });

  it("serves the playground at / without a key, with its assets, a strict CSP and the emulator as image origin", async () => {
    expect(sandbox.output()).toContain(`Playground   ${sandbox.url}/`);
    const http = httpClient(sandbox.url);
    const page = await http.get("/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.text).toContain("<title>Image jobs playground</title>");
    const emulator = /Emulators\s+S3 \+ SQS (http:\/\/\S+),/.exec(sandbox.output())?.[1];
    expect(page.headers.get("content-security-policy")).toContain(`img-src 'self' data: blob: ${emulator};`);
    const script = /<script type="module" crossorigin src="(\/assets\/index-[\w-]+\.js)"/.exec(
      page.text,
    )?.[1];
    const js = await http.get(script ?? "/assets/missing.js");
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("cache-control")).toContain("immutable");
    expect(js.text).toContain("/v1/jobs");
  });
});

describe("sandbox lifecycle", () => {
  it("keeps jobs and images across a restart, and stops cleanly on SIGTERM", async () => {
    const first = await startSandboxProcess({ LOCAL_API_KEY: "sk-img-restart-test-key-0001" });
    const api = httpClient(first.url, first.key);
    const created = await api.post("/v1/jobs", {
      operation: "generate",
      input: { prompt: "a kept job" },
      metadata: { order: "42" },
    });
    expect(created.status).toBe(202);
    const job = created.body;
    expect(created.headers.get("location")).toBe(`/v1/jobs/${job.id}`);
    let status = job.status;
    for (let i = 0; i < 100 && status !== "succeeded"; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = (await api.get(`/v1/jobs/${job.id}`)).body.status;
    }
    expect(status).toBe("succeeded");
    expect(await first.stop("SIGTERM")).toBe(0);
    expect(first.output()).toContain("Stopped cleanly.");

    const second = await startSandboxProcess(
      { LOCAL_API_KEY: "sk-img-restart-test-key-0001" },
      first.dataDir,
    );
    try {
      const again = (await httpClient(second.url, second.key).get(`/v1/jobs/${job.id}`)).body;
      expect(again.status).toBe("succeeded");
      expect(again.metadata).toEqual({ order: "42" });
      const img = await fetch(again.output.images[0].url);
      expect(img.status).toBe(200);
      expect(again.output.images[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      await second.stop();
    }
  });

  it("keeps a generated key across restarts", async () => {
    const first = await startSandboxProcess();
    await first.stop();
    const second = await startSandboxProcess({}, first.dataDir);
    await second.stop();
    expect(second.key).toBe(first.key);
    expect(first.output()).toContain("generated and kept");
    expect(first.adminKey).toMatch(/^sk-admin-[A-Za-z0-9_-]{32}$/);
    expect(second.adminKey).toBe(first.adminKey);
    expect(first.output()).toMatch(/Admin key .*generated and kept in .*admin-api-key/);
  });
});

describe("sandbox with OPENAI_API_KEY against an OpenAI-compatible server", () => {
  let sandbox: SandboxProcess;
  let fake: FakeOpenAI;
  const providerKey = "sk-proj-provider-secret-0123456789abcdef";
  const adminKey = "sk-admin-e2e-secret-0123456789abcdefghij";
  const issuedKeys: string[] = [];

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    sandbox = await startSandboxProcess({
      OPENAI_API_KEY: providerKey,
      OPENAI_BASE_URL: fake.baseURL,
      ADMIN_API_KEY: adminKey,
      LOG_LEVEL: "debug",
    });
  });
  afterAll(async () => {
    await sandbox?.stop();
    await fake?.close();
  });

  it("calls the provider through the openai SDK and stores its images", async () => {
    expect(sandbox.output()).toMatch(/Provider\s+openai/);
    const client = openaiClient(`${sandbox.url}/v1`, sandbox.key);
    const res = await client.images.generate({ prompt: "a teapot", n: 3, size: "1024x1536", quality: "low" });
    expect(res.data).toHaveLength(3);
    const call = fake.requests.at(-1);
    expect(call?.path).toBe("/v1/images/generations");
    expect(call?.headers.authorization).toBe(`Bearer ${providerKey}`);
    expect(call?.json).toMatchObject({
      model: "gpt-image-2",
      prompt: "a teapot",
      n: 3,
      size: "1024x1536",
      quality: "low",
    });
    expect(res.usage?.total_tokens).toBe(310);
    const meta = await sharp(Buffer.from(res.data?.[0]?.b64_json ?? "", "base64")).metadata();
    expect([meta.width, meta.height]).toEqual([1024, 1536]);
  });

  it("never shows the provider key, even when the provider echoes it", async () => {
    fake.script({
      status: 401,
      body: {
        error: {
          message: `Incorrect API key provided: ${providerKey}. You can find your API key at https://platform.openai.com.`,
          type: "invalid_request_error",
          param: null,
          code: "invalid_api_key",
        },
      },
    });
    const res = await httpClient(sandbox.url, sandbox.key).post("/v1/images/generations", {
      prompt: "leak test",
    });
    const text = res.text;
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe("provider_authentication_failed");
    expect(text).not.toContain(providerKey);
    expect(text).not.toContain(providerKey.slice(8, 30));
    expect(sandbox.output()).not.toContain(providerKey.slice(8, 30));
  });
  it("prints the admin key it was given", () => {
    expect(sandbox.adminKey).toBe(adminKey);
    expect(sandbox.output()).toMatch(
      /Admin key\s+sk-admin-e2e-\S+\s+\(for \/admin\/keys and \/admin\/usage, from ADMIN_API_KEY\)/,
    );
  });

  it("issues a tenant key over HTTP that the SDK can use at once, until it is revoked", async () => {
    const admin = httpClient(sandbox.url, sandbox.adminKey);
    const created = await admin.post("/admin/keys", {
      tenant: "acme",
      name: "e2e",
      limits: { images_per_day: 10 },
    });
    expect(created.status).toBe(201);
    const key = created.body.key as string;
    issuedKeys.push(key);
    const acme = openaiClient(`${sandbox.url}/v1`, key);
    const res = await acme.images.generate({ prompt: "a key of our own", size: "1024x1024" });
    expect(res.data).toHaveLength(1);

    // Another tenant, the sandbox's own, cannot see acme's job.
    const jobId = (
      await acme.images.generate({ prompt: "whose job?", size: "1024x1024" }).withResponse()
    ).response.headers.get("x-job-id");
    const mine = await httpClient(sandbox.url, key).get(`/v1/jobs/${jobId}`);
    expect(mine.status).toBe(200);
    const theirs = await httpClient(sandbox.url, sandbox.key).get(`/v1/jobs/${jobId}`);
    expect(theirs.status).toBe(404);

    const usage = await admin.get("/admin/usage?tenant=acme");
    // Two 1024×1024 images, priced by the tokens the fake reports: 2 × (10 × $8 + 100 × $30) per million.
    expect(usage.body.total).toEqual({ jobs: 2, images: 2, cost_usd: 0.00616 });

    expect((await admin.call("DELETE", `/admin/keys/${created.body.id}`)).status).toBe(200);
    await expect(acme.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it("never prints a secret after its banner, with debug logging on", () => {
    const out = sandbox.output();
    const banner = '-d \'{"prompt":"a lighthouse at dawn","n":2,"response_format":"url"}\'';
    expect(out).toContain(banner);
    const logs = out.slice(out.indexOf(banner) + banner.length);
    expect(logs).toMatch(/DEBUG/); // the SDK's request lines, among others
    for (const secret of [providerKey, providerKey.slice(8, 30), adminKey, sandbox.key, ...issuedKeys]) {
      expect(logs).not.toContain(secret);
    }
  });
});
