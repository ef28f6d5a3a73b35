import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type OpenAI from "openai";
import { toFile } from "openai";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog, type ModelSpec } from "../../lib/catalog/catalog.ts";
import { sniffFormat } from "../../lib/images/types.ts";
import { variationPrompt } from "../../lib/jobs/operations/variation.ts";
import { OpenAIProvider } from "../../lib/providers/openai.ts";
import { startTestStack, type TestStack } from "../support/emulators.ts";
import { type FakeOpenAI, type RecordedRequest, startFakeOpenAI } from "../support/fake-openai.ts";
import { type HttpResult, httpClient, type Json } from "../support/http.ts";
import { at, picture, pixelBomb, pixels, withHole } from "../support/images.ts";
import { conformingFetch, openaiClient } from "../support/openai.ts";
import { startTestService, type TestService } from "../support/service.ts";

// The edit, variation and outpaint pipeline in one process: real handlers, emulators, and a fake OpenAI that
// records what the worker sent, read back with undici's multipart parser.

const providerKey = "sk-proj-provider-key-for-tests-0001";
const maxImageBytes = 600 * 1024;
const maxRequestBytes = 2 * 1024 * 1024;

let stack: TestStack;
let fake: FakeOpenAI;
let service: TestService;
let client: OpenAI;
let api: ReturnType<typeof httpClient>;

beforeAll(async () => {
  [stack, fake] = await Promise.all([startTestStack(), startFakeOpenAI()]);
  service = await startTestService(stack, {
    OPENAI_API_KEY: providerKey,
    OPENAI_BASE_URL: fake.baseURL,
    PROVIDER_MAX_RETRIES: "0",
    MAX_IMAGE_BYTES: String(maxImageBytes),
    MAX_REQUEST_BYTES: String(maxRequestBytes),
  });
  client = openaiClient(`${service.url}/v1`, service.key);
  api = httpClient(service.url, service.key);
});
afterAll(async () => {
  await service?.stop();
  await fake?.close();
  await stack?.emulators.stop();
});

const lastEdit = (): RecordedRequest => {
  const req = fake.requests.filter((r) => r.path === "/v1/images/edits").at(-1);
  if (!req?.form) throw new Error("the provider received no multipart edit");
  return req;
};

async function jobOf(response: Response): Promise<Json> {
  const id = response.headers.get("x-job-id");
  expect(id).toMatch(/^job_/);
  return (await api.get(`/v1/jobs/${id}`)).body;
}

async function settled(id: string): Promise<Json> {
  for (let i = 0; i < 200; i++) {
    const job = (await api.get(`/v1/jobs/${id}`)).body;
    if (["succeeded", "failed", "canceled"].includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`job ${id} did not settle`);
}

const dataUrl = (png: Buffer) => `data:image/png;base64,${png.toString("base64")}`;

async function multipart(
  path: string,
  fields: Record<string, string | Buffer | Buffer[]>,
  key = service.key,
) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value === "string") form.append(name, value);
    else
      for (const v of Array.isArray(value) ? value : [value]) form.append(name, new Blob([v]), "upload.bin");
  }
  const res = await conformingFetch(`${service.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}` },
    body: form,
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: text ? JSON.parse(text) : undefined,
    text,
  } as HttpResult;
}

describe("what the worker sends the provider", () => {
  it("a normalised multipart edit: oriented PNG, alpha mask, the fields as strings", async () => {
    // Stored 64x48 with EXIF orientation 6: the user sees it 48x64, and the mask is drawn on that.
    const jpeg = await sharp(await picture(64, 48))
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const mask = await withHole(48, 64, { left: 8, top: 8, width: 16, height: 24 });
    const { data, response } = await client.images
      .edit({
        image: await toFile(jpeg, "photo.jpg"),
        mask: await toFile(mask, "mask.png"),
        prompt: "add a hat",
        n: 2,
        size: "1024x1024",
        quality: "low",
        output_format: "webp",
        output_compression: 80,
      })
      .withResponse();
    expect(data.data).toHaveLength(2);
    expect(data.output_format).toBe("webp");

    const sent = lastEdit();
    expect(sent.headers.authorization).toBe(`Bearer ${providerKey}`);
    expect(sent.form?.fields).toEqual({
      model: ["gpt-image-2"],
      prompt: ["add a hat"],
      n: ["2"],
      size: ["1024x1024"],
      quality: ["low"],
      output_format: ["webp"],
      output_compression: ["80"],
    });
    const image = sent.form?.files.image?.[0];
    const sentMask = sent.form?.files.mask?.[0];
    expect([image?.type, sentMask?.type]).toEqual(["image/png", "image/png"]);
    expect(sniffFormat(image?.bytes as Buffer)).toBe("png");
    const meta = await sharp(image?.bytes).metadata();
    expect([meta.width, meta.height, meta.exif, meta.orientation]).toEqual([48, 64, undefined, undefined]);
    const m = await pixels(sentMask?.bytes as Buffer);
    expect([m.width, m.height, at(m, 10, 10)[3], at(m, 40, 60)[3]]).toEqual([48, 64, 0, 255]);

    const job = await jobOf(response);
    expect(job.operation).toBe("edit");
    expect(job.input).toMatchObject({ mask_source: "mask", images: [{ width: 48, height: 64 }] });
    expect(JSON.stringify(job.input)).not.toContain("sources/");
  });

  it("several images go as image[] parts, in order", async () => {
    const inputs = await Promise.all([picture(40, 30), picture(30, 40, "webp"), picture(50, 50, "gif")]);
    await client.images.edit({
      image: await Promise.all(inputs.map((b, i) => toFile(b, `ref-${i}`))),
      prompt: "combine them",
    });
    const files = lastEdit().form?.files["image[]"] ?? [];
    const sizes = await Promise.all(files.map(async (f) => sharp(f.bytes).metadata()));
    expect(sizes.map((s) => [s.format, s.width, s.height])).toEqual([
      ["png", 40, 30],
      ["png", 30, 40],
      ["png", 50, 50],
    ]);
    expect(lastEdit().form?.files.mask).toBeUndefined();
  });

  it("with no mask, the image's own transparency becomes the mask", async () => {
    const cutout = await withHole(40, 40, { left: 10, top: 10, width: 20, height: 20 }, [200, 50, 50]);
    const res = await client.images
      .edit({ image: await toFile(cutout, "cutout.png"), prompt: "fill it" })
      .withResponse();
    const mask = await pixels(lastEdit().form?.files.mask?.[0]?.bytes as Buffer);
    expect([at(mask, 15, 15)[3], at(mask, 2, 2)[3]]).toEqual([0, 255]);
    expect((await jobOf(res.response)).input.mask_source).toBe("image_alpha");

    const opaque = await client.images
      .edit({ image: await toFile(await picture(40, 40), "a"), prompt: "restyle" })
      .withResponse();
    expect(lastEdit().form?.files.mask).toBeUndefined();
    expect((await jobOf(opaque.response)).input.mask_source).toBe("none");
  });

  it("a variation of a model without a variations endpoint is an edit, and says so", async () => {
    const { response, data } = await client.images
      .createVariation({ image: await toFile(await picture(64, 64), "v.png"), n: 1, size: "1024x1024" })
      .withResponse();
    expect(data.data).toHaveLength(1);
    expect(data.data?.[0]?.revised_prompt).toBeUndefined();
    const sent = lastEdit();
    expect(sent.form?.fields.prompt).toEqual([variationPrompt]);
    expect(sent.form?.files.mask).toBeUndefined();
    const job = await jobOf(response);
    expect([job.operation, job.output.method]).toEqual(["variation", "edit"]);
  });

  it("a prompt steers a variation made by editing; a model with its own variations endpoint takes none", async () => {
    const steered = await multipart("/v1/images/variations", {
      image: await picture(64, 64),
      prompt: "in autumn colours",
      size: "1024x1024",
    });
    expect(steered.status).toBe(200);
    expect(lastEdit().form?.fields.prompt).toEqual([`${variationPrompt} in autumn colours`]);
    const native = await multipart("/v1/images/variations", {
      image: await picture(64, 64),
      prompt: "in autumn colours",
      model: "placeholder",
    });
    expect([native.status, native.body.error.param]).toEqual([400, "prompt"]);
  });

  it("a native variation uses the variations endpoint", async () => {
    const provider = new OpenAIProvider({
      apiKey: providerKey,
      baseURL: fake.baseURL,
      timeoutMs: 5_000,
      maxRetries: 0,
    });
    const model = catalog.find((m) => m.id === "dall-e-2") as ModelSpec;
    const result = await provider.variation({
      model,
      image: await picture(256, 256),
      n: 2,
      size: { width: 256, height: 256 },
      outputFormat: "png",
      seed: "s",
      signal: new AbortController().signal,
    });
    expect(result.images).toHaveLength(2);
    const sent = fake.requests.at(-1);
    expect(sent?.path).toBe("/v1/images/variations");
    expect(sent?.form?.fields).toMatchObject({
      model: ["dall-e-2"],
      n: ["2"],
      size: ["256x256"],
      response_format: ["b64_json"],
    });
    expect(sniffFormat(sent?.form?.files.image?.[0]?.bytes as Buffer)).toBe("png");
  });

  it("an outpaint job sends the enlarged canvas and a border mask", async () => {
    const created = await api.post("/v1/jobs", {
      operation: "outpaint",
      input: { image: dataUrl(await picture(200, 100)), border_percentage: 0.25, output_format: "jpeg" },
    });
    expect(created.status).toBe(202);
    const job = await settled(created.body.id);
    expect(job.status).toBe("succeeded");
    // 300x150 wanted; gpt-image-2 needs at least 655,360 pixels in multiples of 16, at the same 2:1.
    expect(job.input.size).toBe("1152x576");
    const { placement } = job.input;
    expect(placement.width / placement.height).toBeCloseTo(2, 1);
    expect(placement.left * 2 + placement.width).toBeGreaterThanOrEqual(1151);
    const sent = lastEdit();
    expect(sent.form?.fields.size).toEqual(["1152x576"]);
    expect(sent.form?.fields.prompt?.[0]).toMatch(/Extend the scene/);
    const [image, mask] = await Promise.all([
      pixels(sent.form?.files.image?.[0]?.bytes as Buffer),
      pixels(sent.form?.files.mask?.[0]?.bytes as Buffer),
    ]);
    expect([image.width, image.height, mask.width, mask.height]).toEqual([1152, 576, 1152, 576]);
    expect([at(image, 5, 5)[3], at(mask, 5, 5)[3], at(mask, 576, 288)[3]]).toEqual([0, 0, 255]);
    expect(job.output.images[0]).toMatchObject({ width: 1152, height: 576, format: "jpeg" });
  });
});

describe("inputs from earlier jobs, and inputs kept", () => {
  it("reads a job's output from S3, by reference or by its own URL, with private URLs still refused", async () => {
    const first = await client.images
      .edit({
        model: "placeholder",
        image: await toFile(await picture(48, 48), "a"),
        prompt: "one",
        response_format: "url",
      })
      .withResponse();
    const firstJob = await jobOf(first.response);
    const url = first.data.data?.[0]?.url as string;
    expect(new URL(url).hostname).toBe("127.0.0.1"); // the emulator: a private address

    const byUrl = await api.post("/v1/images/edits", { model: "placeholder", image: url, prompt: "two" });
    expect(byUrl.status).toBe(200);
    const byRef = await api.post("/v1/images/edits", {
      model: "placeholder",
      images: [{ job_id: firstJob.id, index: 0 }],
      prompt: "three",
    });
    expect(byRef.status).toBe(200);
    const chained = (await api.get(`/v1/jobs/${byRef.headers.get("x-job-id")}`)).body;
    expect(chained.input.images[0].from_job).toEqual({ job_id: firstJob.id, index: 0 });

    // Another tenant: the job is not theirs, and the URL is just a private URL to them.
    const other = httpClient(service.url, service.otherKey);
    const theirRef = await other.post("/v1/images/edits", { image: { job_id: firstJob.id }, prompt: "x" });
    expect([theirRef.status, theirRef.body.error.param, theirRef.body.error.code]).toEqual([
      400,
      "image",
      "job_not_found",
    ]);
    const theirUrl = await other.post("/v1/images/edits", { image: url, prompt: "x" });
    expect([theirUrl.status, theirUrl.body.error.code]).toEqual([400, "url_not_allowed"]);
  });

  it("keeps sources beside the outputs when asked; otherwise they wait under sources/ only", async () => {
    const mask = await withHole(48, 48, { left: 0, top: 0, width: 24, height: 48 });
    const kept = await multipart("/v1/images/edits", {
      model: "placeholder",
      prompt: "keep them",
      image: await picture(48, 48, "jpeg"),
      mask,
      save_source_image: "true",
      save_source_mask: "true",
    });
    expect(kept.status).toBe(200);
    const job = (await api.get(`/v1/jobs/${kept.headers.get("x-job-id")}`)).body;
    expect(job.output.sources.map((s: Json) => [s.role, s.index, s.width, s.height])).toEqual([
      ["image", 0, 48, 48],
      ["mask", 0, 48, 48],
    ]);
    for (const s of job.output.sources) {
      const res = await fetch(s.url);
      expect(sniffFormat(Buffer.from(await res.arrayBuffer()))).toBe("png");
    }
    const keys = await service.objectKeys();
    const prefix = `tenants/tenant-a/jobs/${job.id}/`;
    expect(keys.filter((k) => k.startsWith(prefix)).sort()).toEqual(
      [`${prefix}output-0.png`, `${prefix}source-0.png`, `${prefix}source-mask.png`].sort(),
    );
    expect(keys).toContain(`sources/tenant-a/${job.id}/image-0.png`);

    const plain = await api.post("/v1/images/edits", {
      model: "placeholder",
      image: dataUrl(mask),
      prompt: "x",
    });
    const plainJob = (await api.get(`/v1/jobs/${plain.headers.get("x-job-id")}`)).body;
    expect(plainJob.output.sources).toBeUndefined();
    expect((await service.objectKeys()).filter((k) => k.includes(`${plainJob.id}/source`))).toEqual([]);
  });
});

describe("bad input: a 4xx in OpenAI's envelope, and nothing left behind", () => {
  const bomb = pixelBomb();
  const text = Buffer.from("just some text, not an image");

  const cases: [string, () => Promise<HttpResult>, number, string | null][] = [
    [
      "a file that is not an image",
      () => multipart("/v1/images/edits", { prompt: "x", image: text }),
      400,
      "image",
    ],
    ["a pixel bomb", () => multipart("/v1/images/edits", { prompt: "x", image: bomb }), 400, "image"],
    [
      "an image over the byte limit",
      () => multipart("/v1/images/edits", { prompt: "x", image: Buffer.alloc(maxImageBytes + 1, 1) }),
      413,
      "image",
    ],
    [
      "a body over the request limit",
      () => multipart("/v1/images/edits", { prompt: "x", image: Buffer.alloc(maxRequestBytes + 10, 1) }),
      413,
      null,
    ],
    [
      "a mask of another shape",
      async () =>
        multipart("/v1/images/edits", {
          prompt: "x",
          image: await picture(60, 40),
          mask: await withHole(40, 40, { left: 0, top: 0, width: 5, height: 5 }),
        }),
      400,
      "mask",
    ],
    [
      "a private URL",
      () => api.post("/v1/images/edits", { prompt: "x", image: "http://169.254.169.254/latest/meta-data/" }),
      400,
      "image",
    ],
    [
      "a URL to localhost among several images",
      async () =>
        api.post("/v1/images/edits", {
          prompt: "x",
          images: [dataUrl(await picture(8, 8)), { image_url: "http://localhost/a.png" }],
        }),
      400,
      "images[1]",
    ],
    [
      "a truncated multipart body",
      () =>
        api.call(
          "POST",
          "/v1/images/edits",
          '--XX\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nhel',
          {
            "content-type": "multipart/form-data; boundary=XX",
          },
        ),
      400,
      null,
    ],
    [
      "an unknown parameter",
      async () => multipart("/v1/images/edits", { prompt: "x", image: await picture(8, 8), colour: "red" }),
      400,
      "colour",
    ],
    [
      "a mask with border_percentage",
      async () =>
        multipart("/v1/images/edits", {
          prompt: "x",
          image: await picture(8, 8),
          mask: await picture(8, 8),
          border_percentage: "0.1",
        }),
      400,
      "mask",
    ],
    [
      "17 images",
      async () =>
        multipart("/v1/images/edits", { prompt: "x", "image[]": Array(17).fill(await picture(8, 8)) }),
      400,
      "image",
    ],
    ["no image", () => api.post("/v1/images/variations", { n: 1 }), 400, "image"],
    [
      "a bad image in a job's input",
      () =>
        api.post("/v1/jobs", {
          operation: "edit",
          input: { prompt: "x", image: "data:image/png;base64,AAAA" },
        }),
      400,
      "input.image",
    ],
    [
      "a job that is not a job",
      () => api.post("/v1/jobs", { operation: "variation", input: { image: { job_id: "job_nope" } } }),
      400,
      "input.image",
    ],
    ...(
      [
        ["edit", { prompt: "x" }],
        ["outpaint", { border_percentage: 0.1 }],
        ["variation", {}],
      ] as const
    ).map(([operation, fields]): [string, () => Promise<HttpResult>, number, string] => [
      `a model that does not exist in a job's ${operation} input`,
      async () =>
        api.post("/v1/jobs", {
          operation,
          input: { ...fields, image: dataUrl(await picture(64, 64)), model: "nope" },
        }),
      400,
      "input.model",
    ]),
  ];

  it.each(cases)("%s", async (_, send, status, param) => {
    const before = await service.counts();
    const res = await send();
    expect(res.status, res.text).toBe(status);
    expect(res.body.error).toMatchObject({ type: "invalid_request_error", param });
    expect(typeof res.body.error.message).toBe("string");
    expect(await service.counts()).toEqual(before);
  });
});

describe("image URLs, where private addresses are allowed", () => {
  let server: Server;
  let allowed: TestService;
  let base: string;

  beforeAll(async () => {
    const png = await picture(32, 32);
    server = createServer((req, res) => {
      if (req.url === "/a.png") res.writeHead(200, { "content-type": "text/plain" }).end(png);
      else if (req.url === "/big") res.writeHead(200).end(Buffer.alloc(maxImageBytes + 100));
      else res.writeHead(404).end();
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    allowed = await startTestService(stack, {
      OPENAI_API_KEY: providerKey,
      OPENAI_BASE_URL: fake.baseURL,
      ALLOW_PRIVATE_URLS: "true",
      MAX_IMAGE_BYTES: String(maxImageBytes),
    });
  });
  afterAll(async () => {
    await allowed?.stop();
    server?.closeAllConnections();
    server?.close();
  });

  it("fetches the image (sniffing its real type), and names the param when the fetch fails", async () => {
    const call = httpClient(allowed.url, allowed.key);
    const ok = await call.post("/v1/images/variations", { model: "placeholder", image: `${base}/a.png` });
    expect(ok.status).toBe(200);
    const missing = await call.post("/v1/images/variations", { image: `${base}/nothing.png` });
    expect([missing.status, missing.body.error.param, missing.body.error.code]).toEqual([
      400,
      "image",
      "image_fetch_failed",
    ]);
    const big = await call.post("/v1/images/variations", { image: `${base}/big` });
    expect([big.status, big.body.error.param]).toEqual([413, "image"]);
  });
});
