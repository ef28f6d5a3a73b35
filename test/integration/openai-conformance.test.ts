import type OpenAI from "openai";
import { toFile } from "openai";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../support/emulators.ts";
import {
  type FakeOpenAI,
  fakeAutoQuality,
  type RecordedRequest,
  startFakeOpenAI,
} from "../support/fake-openai.ts";
import { type HttpResult, httpClient, type Json } from "../support/http.ts";
import { picture, withHole } from "../support/images.ts";
import { conformingFetch, openaiClient } from "../support/openai.ts";
import { startTestService, type TestService } from "../support/service.ts";

// Issue 14's conformance with OpenAI's Images API (openai/openai-openapi), end to end through the official SDK:
// nulls, the default response format, usage, resolved values, model aliases and qualities, input_fidelity, the
// endpoints' defaults, and the 6 MB ceiling of a synchronous Lambda answer. Every answer the SDK and the raw
// client receive is also checked against OpenAI's vendored schemas (test/support/openai-schemas.ts).

const providerKey = "sk-proj-provider-key-for-conformance-01";

let stack: TestStack;
let fake: FakeOpenAI;
let photos: FakeOpenAI;
let service: TestService;
let urls: TestService;
let client: OpenAI;
let api: ReturnType<typeof httpClient>;

beforeAll(async () => {
  // `photos` answers with photo-like noise: 1024x1024 PNGs of about 1.7 MB, as real outputs weigh.
  [stack, fake, photos] = await Promise.all([
    startTestStack(),
    startFakeOpenAI(),
    startFakeOpenAI({ texture: "photo" }),
  ]);
  const env = {
    OPENAI_API_KEY: providerKey,
    OPENAI_BASE_URL: fake.baseURL,
    PROVIDER_MAX_RETRIES: "0",
    OPENAI_COMPATIBLE_UPSTREAMS: JSON.stringify([
      {
        // One image per call: a request for n images is split into n provider calls.
        name: "relay",
        base_url: fake.baseURL,
        models: [
          {
            id: "relay-image",
            upstream_id: "gpt-image-2",
            operations: ["generate", "edit"],
            max_images_per_call: 1,
          },
        ],
      },
      {
        name: "photos",
        base_url: photos.baseURL,
        models: [{ id: "photo-image", upstream_id: "gpt-image-2", max_images_per_call: 10 }],
      },
    ]),
  };
  service = await startTestService(stack, env);
  // The same deployment with DEFAULT_RESPONSE_FORMAT=url: a team that wants URLs by default.
  urls = await startTestService(stack, { ...env, DEFAULT_RESPONSE_FORMAT: "url" });
  client = openaiClient(`${service.url}/v1`, service.key);
  api = httpClient(service.url, service.key);
});
afterAll(async () => {
  await service?.stop();
  await urls?.stop();
  await fake?.close();
  await photos?.close();
  await stack?.emulators.stop();
});

const lastCall = (path: string): RecordedRequest => {
  const req = fake.requests.filter((r) => r.path === path).at(-1);
  if (!req) throw new Error(`the provider received no ${path}`);
  return req;
};

const dataUrl = (png: Buffer) => `data:image/png;base64,${png.toString("base64")}`;

/** A multipart request as form encoders send it, through the conformance check. */
async function multipart(path: string, fields: Record<string, string | Buffer>): Promise<HttpResult> {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value === "string") form.append(name, value);
    else form.append(name, new Blob([value]), "upload.png");
  }
  const res = await conformingFetch(`${service.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${service.key}` },
    body: form,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined, text };
}

async function jobOf(res: { headers: Headers }): Promise<Json> {
  const id = res.headers.get("x-job-id");
  expect(id).toMatch(/^job_/);
  return (await api.get(`/v1/jobs/${id}`)).body;
}

async function sizeOf(b64: string | undefined) {
  const meta = await sharp(Buffer.from(b64 ?? "", "base64")).metadata();
  return `${meta.width}x${meta.height}`;
}

describe("1. null means not given", () => {
  it("on generations, every optional parameter null, through the SDK", async () => {
    const { data: res, response } = await client.images
      .generate({
        prompt: "a lighthouse",
        model: null,
        n: null,
        quality: null,
        response_format: null,
        output_format: null,
        output_compression: null,
        stream: null,
        size: null,
        moderation: null,
        background: null,
        style: null,
      })
      .withResponse();
    expect(res.data).toHaveLength(1);
    const job = await jobOf(response);
    expect(job.input).toMatchObject({ model: "gpt-image-2", n: 1, size: "auto", output_format: "png" });
    expect(job.input).not.toHaveProperty("quality");
    // The provider was asked with nothing of them: its own defaults apply.
    expect(lastCall("/v1/images/generations").json).not.toHaveProperty("quality");
  });

  it("on JSON edits and variations, and in a job's input", async () => {
    const image = dataUrl(await picture(64, 64));
    const nulls = {
      model: null,
      n: null,
      size: null,
      quality: null,
      response_format: null,
      output_format: null,
      output_compression: null,
      background: null,
      user: null,
    };
    const edit = await api.post("/v1/images/edits", {
      prompt: "a hat",
      images: [{ image_url: image }],
      mask: null,
      input_fidelity: null,
      moderation: null,
      stream: null,
      ...nulls,
    });
    expect([edit.status, edit.body.error]).toEqual([200, undefined]);
    const variation = await api.post("/v1/images/variations", { image, ...nulls });
    expect([variation.status, variation.body.error]).toEqual([200, undefined]);
    const job = await api.post("/v1/jobs", { operation: "generate", input: { prompt: "x", ...nulls } });
    expect([job.status, job.body.input.n]).toEqual([202, 1]);
  });

  it("in multipart edits and variations: the text null (openai-node's) and an empty value (None)", async () => {
    const image = await picture(64, 64);
    const fields = { n: "null", size: "", quality: "null", output_compression: "", input_fidelity: "null" };
    const edit = await multipart("/v1/images/edits", { image, prompt: "a hat", ...fields });
    expect([edit.status, edit.body.error]).toEqual([200, undefined]);
    const { input_fidelity: _, ...common } = fields;
    const variation = await multipart("/v1/images/variations", { image, ...common, user: "null" });
    expect([variation.status, variation.body.error]).toEqual([200, undefined]);
    // Free text is kept as sent: a prompt may say "null".
    await multipart("/v1/images/edits", { image, prompt: "null" });
    expect(lastCall("/v1/images/edits").form?.fields.prompt).toEqual(["null"]);
  });
});

describe("2. the response format", () => {
  it("is b64_json when the request names none, as OpenAI answers for GPT image models", async () => {
    const res = await client.images.generate({ prompt: "a kite", size: "1024x1536" });
    expect(res.data?.[0]?.url).toBeUndefined();
    expect(await sizeOf(res.data?.[0]?.b64_json)).toBe("1024x1536");
  });

  it("is this service's own presigned URLs with response_format url", async () => {
    const res = await client.images.generate({ prompt: "a kite", response_format: "url" });
    const url = res.data?.[0]?.url as string;
    expect(res.data?.[0]?.b64_json).toBeUndefined();
    expect(url).toContain(`/tenants/tenant-a/jobs/`);
    const download = await fetch(url);
    expect((await sharp(Buffer.from(await download.arrayBuffer())).metadata()).format).toBe("png");
  });

  it("is url by default where the deployment sets DEFAULT_RESPONSE_FORMAT=url; b64_json when asked", async () => {
    const team = openaiClient(`${urls.url}/v1`, urls.key);
    const byDefault = await team.images.generate({ prompt: "a kite" });
    expect(byDefault.data?.[0]?.url).toMatch(/X-Amz-Signature=/);
    const asked = await team.images.generate({ prompt: "a kite", response_format: "b64_json" });
    expect(asked.data?.[0]?.b64_json).toBeTruthy();
  });
});

describe("3. usage", () => {
  it("is the provider's own figures, with their breakdown, and the job keeps them", async () => {
    const { data: res, response } = await client.images.generate({ prompt: "a fox", n: 2 }).withResponse();
    const expected = {
      input_tokens: 10,
      output_tokens: 200,
      total_tokens: 210,
      input_tokens_details: { text_tokens: 10, image_tokens: 0 },
    };
    expect(res.usage).toEqual(expected);
    expect((await jobOf(response)).usage).toMatchObject({ provider_calls: 1, ...expected });
  });

  it("is summed over the provider calls a request was split into", async () => {
    const before = fake.requests.length;
    const { data: res, response } = await client.images
      .generate({ prompt: "a fox", n: 3, model: "relay-image" })
      .withResponse();
    expect(fake.requests.length - before).toBe(3);
    const summed = {
      input_tokens: 30,
      output_tokens: 300,
      total_tokens: 330,
      input_tokens_details: { text_tokens: 30, image_tokens: 0 },
    };
    expect(res.usage).toEqual(summed);
    expect((await jobOf(response)).usage).toMatchObject({ provider_calls: 3, ...summed });
  });

  it("is shown on async jobs too, edits' image tokens included", async () => {
    const created = await api.post(
      "/v1/jobs",
      { operation: "edit", input: { prompt: "a hat", image: dataUrl(await picture(64, 64)) } },
      { prefer: "wait=20" },
    );
    expect(created.status).toBe(201);
    expect(created.body.usage).toMatchObject({
      input_tokens: 50,
      output_tokens: 100,
      total_tokens: 150,
      input_tokens_details: { text_tokens: 10, image_tokens: 40 },
    });
  });

  it("is left out for a provider that reports none: nothing is made up", async () => {
    const { data: res, response } = await client.images
      .generate({ prompt: "a fox", model: "placeholder" })
      .withResponse();
    expect(res).not.toHaveProperty("usage");
    const usage = (await jobOf(response)).usage;
    expect(usage).toMatchObject({ images: 1, provider_calls: 1 });
    expect(usage).not.toHaveProperty("total_tokens");
  });
});

describe("4. the response describes the images made", () => {
  it("never auto: what the provider chose, and the size of the image itself", async () => {
    const res = await client.images.generate({ prompt: "a fox", quality: "auto", background: "auto" });
    expect(fake.requests.at(-1)?.json).toMatchObject({ quality: "auto", background: "auto", size: "auto" });
    expect(res).toMatchObject({
      quality: fakeAutoQuality,
      background: "opaque",
      size: "1024x1024",
      output_format: "png",
    });
  });

  it("reads background from the pixels, and quality from what was asked when the provider says nothing", async () => {
    const clear = await client.images.generate({
      prompt: "a sticker",
      model: "placeholder",
      background: "transparent",
      output_format: "webp",
      quality: "high",
      size: "640x480",
    });
    expect(clear).toMatchObject({
      background: "transparent",
      quality: "high",
      output_format: "webp",
      size: "640x480",
    });
    const auto = await client.images.generate({
      prompt: "a sticker",
      model: "placeholder",
      background: "auto",
    });
    expect(auto.background).toBe("opaque");
    // Nobody said which quality "auto" became: none is claimed.
    expect(auto).not.toHaveProperty("quality");
    // An edit elsewhere in a cut-out keeps its transparency, and says so.
    const edited = await multipart("/v1/images/edits", {
      image: await withHole(64, 64, { left: 0, top: 0, width: 16, height: 16 }),
      mask: await withHole(64, 64, { left: 32, top: 32, width: 16, height: 16 }),
      prompt: "fill it",
      model: "placeholder",
      size: "auto",
    });
    expect(edited.status).toBe(200);
    expect(edited.body.background).toBe("transparent");
  });
});

describe("5. models: snapshots, aliases and their qualities", () => {
  it("serve a dated snapshot and an alias as their model, sending the provider the name asked for", async () => {
    const { response } = await client.images
      .generate({ prompt: "a fox", model: "gpt-image-2-2026-04-21", size: "1536x864" })
      .withResponse();
    expect(lastCall("/v1/images/generations").json?.model).toBe("gpt-image-2-2026-04-21");
    expect((await jobOf(response)).model).toBe("gpt-image-2-2026-04-21");
    await client.images.edit({
      model: "chatgpt-image-latest",
      prompt: "a hat",
      image: await toFile(await picture(64, 64), "in.png", { type: "image/png" }),
    });
    expect(lastCall("/v1/images/edits").form?.fields.model).toEqual(["chatgpt-image-latest"]);
    const ids = (await client.models.list()).data.map((m) => m.id);
    expect(ids).toEqual(
      expect.arrayContaining(["gpt-image-2-2026-04-21", "chatgpt-image-latest", "gpt-image-2.5-flare"]),
    );
    const latest = await api.get("/v1/models/chatgpt-image-latest");
    expect(latest.body).toMatchObject({
      id: "chatgpt-image-latest",
      alias_of: "gpt-image-2",
      served_by: "openai",
    });
  });

  it("take the higher qualities only on models that have them", async () => {
    const res = await client.images.generate({
      prompt: "a fox",
      model: "gpt-image-2.5-flare",
      quality: "xhigh",
    });
    expect(lastCall("/v1/images/generations").json).toMatchObject({
      model: "gpt-image-2.5-flare",
      quality: "xhigh",
    });
    expect(res.quality).toBe("xhigh");
    const max = await client.images.generate({
      prompt: "a fox",
      model: "gpt-image-2.6-flare",
      quality: "max",
    });
    expect(max.quality).toBe("max");
    const refused = await api.post("/v1/images/generations", { prompt: "a fox", quality: "xhigh" });
    expect([refused.status, refused.body.error.param]).toEqual([400, "quality"]);
    expect(refused.body.error.message).toBe(
      "gpt-image-2 does not support quality 'xhigh'. Use one of: auto, low, medium, high.",
    );
  });
});

describe("6. input_fidelity", () => {
  it("reaches the provider for gpt-image-2 and later, as OpenAI's spec has it", async () => {
    for (const model of ["gpt-image-2", "gpt-image-2.5-sunburst"]) {
      const res = await multipart("/v1/images/edits", {
        image: await picture(64, 64),
        prompt: "a hat",
        model,
        input_fidelity: "high",
      });
      expect([model, res.status]).toEqual([model, 200]);
      expect(lastCall("/v1/images/edits").form?.fields.input_fidelity).toEqual(["high"]);
    }
    // A model whose catalog entry takes none (an upstream's) refuses it up front.
    const before = fake.requests.length;
    const refused = await multipart("/v1/images/edits", {
      image: await picture(64, 64),
      prompt: "a hat",
      model: "relay-image",
      input_fidelity: "high",
    });
    expect([refused.status, refused.body.error.param]).toEqual([400, "input_fidelity"]);
    expect(refused.body.error.message).toBe("relay-image takes no 'input_fidelity'.");
    expect(fake.requests.length).toBe(before);
  });
});

describe("7. each endpoint's defaults are OpenAI's", () => {
  it("multipart edits and variations make 1024x1024, JSON edits the provider's choice (auto)", async () => {
    const image = await picture(96, 64);
    await multipart("/v1/images/edits", { image, prompt: "a hat" });
    expect(lastCall("/v1/images/edits").form?.fields.size).toEqual(["1024x1024"]);
    await api.post("/v1/images/edits", { image: dataUrl(image), prompt: "a hat" });
    expect(lastCall("/v1/images/edits").form?.fields.size).toBeUndefined();
    await multipart("/v1/images/variations", { image });
    expect(lastCall("/v1/images/edits").form?.fields.size).toEqual(["1024x1024"]);
    // The placeholder follows the same defaults: 1024x1024 from a form, the image's own size from JSON.
    const form = await multipart("/v1/images/edits", { image, prompt: "a hat", model: "placeholder" });
    expect(form.body.size).toBe("1024x1024");
    const json = await api.post("/v1/images/edits", {
      image: dataUrl(image),
      prompt: "a hat",
      model: "placeholder",
    });
    expect(json.body.size).toBe("96x64");
  });
});

describe("9. the 6 MB a synchronous Lambda answer can carry", () => {
  it("refuses base64 answers over it with a documented error; the job's images are kept", async () => {
    const big = { prompt: "a city", model: "photo-image", n: 4, size: "1536x1024" };
    const err = await client.images.generate(big).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, code: "response_too_large", param: "response_format" });
    const res = await api.post("/v1/images/generations", big);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      type: "invalid_request_error",
      param: "response_format",
      code: "response_too_large",
    });
    expect(res.body.error.message).toMatch(/over the 6\.0 MB .* response_format "url"/);
    const job = await jobOf(res);
    expect([job.status, job.output.images.length]).toEqual(["succeeded", 4]);
    const asUrls = await api.post("/v1/images/generations", { ...big, response_format: "url" });
    expect([asUrls.status, asUrls.body.data.length]).toEqual([200, 4]);
    // Under the ceiling, base64 as usual.
    const one = await api.post("/v1/images/generations", { prompt: "a city", model: "photo-image" });
    expect([one.status, one.text.length]).toEqual([200, expect.any(Number)]);
    expect(one.text.length).toBeGreaterThan(1_000_000);
  });
});
