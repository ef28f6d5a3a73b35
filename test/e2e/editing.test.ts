import type OpenAI from "openai";
import { toFile } from "openai";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  catalog,
  type InputRule,
  type ModelSpec,
  nearestSize,
  sizeProblem,
} from "../../lib/catalog/catalog.ts";
import { inputLayout } from "../../lib/images/normalize.ts";
import { httpClient, type Json } from "../support/http.ts";
import { at, inside, meanDifference, picture, pixels, withHole } from "../support/images.ts";
import { noisyJpeg, photoLikeJpeg } from "../support/large-images.ts";
import { openaiClient } from "../support/openai.ts";
import { type SandboxProcess, startSandboxProcess } from "../support/sandbox-process.ts";

// Editing as a newcomer meets it: `npm start`, the official SDK and plain HTTP, the offline placeholder.

const model = (id: string) => catalog.find((m) => m.id === id) as ModelSpec;

describe("editing in the sandbox", () => {
  let sandbox: SandboxProcess;
  let client: OpenAI;
  let api: ReturnType<typeof httpClient>;

  beforeAll(async () => {
    sandbox = await startSandboxProcess();
    client = openaiClient(`${sandbox.url}/v1`, sandbox.key);
    api = httpClient(sandbox.url, sandbox.key);
  });
  afterAll(async () => {
    await sandbox?.stop();
  });

  const job = async (id: string | null): Promise<Json> => (await api.get(`/v1/jobs/${id}`)).body;

  it("edits with a mask through the SDK: only the masked pixels change", async () => {
    // A size gpt-image-2 (the default model) makes, so the placeholder standing in for it keeps it.
    const image = await picture(1024, 768);
    const hole = { left: 256, top: 192, width: 384, height: 256 };
    const { data, response } = await client.images
      .edit({
        image: await toFile(image, "photo.png", { type: "image/png" }),
        mask: await toFile(await withHole(1024, 768, hole), "mask.png", { type: "image/png" }),
        prompt: "a red balloon",
        response_format: "b64_json",
        // The image's own size: a form's default is OpenAI's 1024x1024.
        size: "auto",
      })
      .withResponse();
    const out = Buffer.from(data.data?.[0]?.b64_json ?? "", "base64");
    const [before, after] = await Promise.all([pixels(image), pixels(out)]);
    expect([after.width, after.height]).toEqual([1024, 768]);
    let changed = 0;
    let leaked = 0;
    for (let y = 0; y < 768; y++) {
      for (let x = 0; x < 1024; x++) {
        const same = at(before, x, y).join() === at(after, x, y).join();
        if (inside(hole, x, y)) changed += same ? 0 : 1;
        else leaked += same ? 0 : 1;
      }
    }
    expect(leaked).toBe(0);
    expect(changed).toBeGreaterThan(hole.width * hole.height * 0.9);
    const record = await job(response.headers.get("x-job-id"));
    expect([record.operation, record.status, record.input.mask_source]).toEqual([
      "edit",
      "succeeded",
      "mask",
    ]);
  });

  it("edits with size auto into a size the model takes, as the real model would; a form's default is 1024x1024", async () => {
    // 800x600 is under gpt-image-2's pixel floor: `size: "800x600"` is refused, so no edit may make it.
    const image = await toFile(await picture(800, 600), "photo.png", { type: "image/png" });
    const result = await client.images.edit({ image, prompt: "a red balloon", size: "auto" });
    const out = await sharp(Buffer.from(result.data?.[0]?.b64_json ?? "", "base64")).metadata();
    const made = `${out.width}x${out.height}`;
    expect([result.size, sizeProblem(model("gpt-image-2"), made)]).toEqual([made, undefined]);
    expect(Math.abs(out.width / out.height - 4 / 3)).toBeLessThan(0.02);
    // No size: OpenAI's spec gives multipart edits 1024x1024 (CreateImageEditRequest).
    const byDefault = await client.images.edit({ image, prompt: "a red balloon" });
    expect(byDefault.size).toBe("1024x1024");
    const refused = await api.post("/v1/images/edits", {
      prompt: "x",
      image: "https://example.com/a.png",
      size: "800x600",
    });
    expect([refused.status, refused.body.error.param]).toEqual([400, "size"]);
  });

  it("edits several images sent as image[]", async () => {
    const images = await Promise.all([picture(128, 128), picture(96, 128, "jpeg")]);
    const { data, response } = await client.images
      .edit({ image: await Promise.all(images.map((b, i) => toFile(b, `ref-${i}`))), prompt: "both", n: 2 })
      .withResponse();
    expect(data.data).toHaveLength(2);
    const record = await job(response.headers.get("x-job-id"));
    expect(record.input.images.map((i: Json) => [i.width, i.height])).toEqual([
      [128, 128],
      [96, 128],
    ]);
  });

  it("makes variations through the SDK that are recognisably the same image", async () => {
    // Variations default to OpenAI's 1024x1024: an image of that size compares pixel for pixel.
    const image = await picture(1024, 1024);
    const { data, response } = await client.images
      .createVariation({ image: await toFile(image, "v.png"), n: 2, response_format: "b64_json" })
      .withResponse();
    const unrelated = await sharp(image).negate({ alpha: false }).png().toBuffer();
    const far = await meanDifference(image, unrelated);
    for (const d of data.data ?? []) {
      const diff = await meanDifference(image, Buffer.from(d.b64_json ?? "", "base64"));
      expect(diff).toBeGreaterThan(1);
      expect(diff).toBeLessThan(far / 3);
    }
    // gpt-image-2 has no variations endpoint: the placeholder stood in for an edit, and the job says so.
    const record = await job(response.headers.get("x-job-id"));
    expect([record.operation, record.output.method]).toEqual(["variation", "edit"]);
  });

  it("outpaints an earlier job's output as an async job, the original centred on the larger canvas", async () => {
    const first = await api.post("/v1/images/generations", {
      model: "placeholder",
      prompt: "a hill",
      size: "200x100",
      response_format: "url",
    });
    const firstId = first.headers.get("x-job-id");
    const created = await api.post("/v1/jobs", {
      operation: "outpaint",
      input: { model: "placeholder", image: { job_id: firstId, index: 0 }, border_percentage: 0.25 },
    });
    expect(created.status).toBe(202);
    let record = created.body;
    for (let i = 0; i < 100 && !["succeeded", "failed"].includes(record.status); i++) {
      await new Promise((r) => setTimeout(r, 50));
      record = await job(record.id);
    }
    expect(record.status).toBe("succeeded");
    expect(record.input.placement).toEqual({ left: 50, top: 25, width: 200, height: 100 });
    const download = async (url: string) => pixels(Buffer.from(await (await fetch(url)).arrayBuffer()));
    const source = await download(first.body.data[0].url);
    const result = await download(record.output.images[0].url);
    expect([result.width, result.height]).toEqual([300, 150]);
    for (const [x, y] of [
      [0, 0],
      [99, 49],
      [199, 99],
      [120, 10],
    ] as const) {
      expect(at(result, x + 50, y + 25)).toEqual(at(source, x, y));
    }
  });

  // A 12 MP camera JPEG is a PNG of tens of MB at full size. gpt-image-2 (the default, which the placeholder
  // stands in for) reads far fewer pixels, so the input is scaled to what it reads. The placeholder model takes
  // 4096 px, so a noisy 2400x1800 input stays full size, a 13 MB PNG, stored in parts past the emulator's
  // 11 MiB request cap, and so is the image made from it.
  it.each([
    { kind: "photo-like", make: photoLikeJpeg, width: 4000, height: 3000, model: undefined },
    { kind: "noisy", make: noisyJpeg, width: 4000, height: 3000, model: undefined },
    { kind: "noisy", make: noisyJpeg, width: 2400, height: 1800, model: "placeholder" },
  ] as const)("edits a $width x $height $kind JPEG through the SDK (model: $model)", async (c) => {
    const { make, width, height, model } = c;
    const jpeg = await make(width, height);
    const { data, response } = await client.images
      .edit({
        image: await toFile(jpeg, "camera.jpg", { type: "image/jpeg" }),
        prompt: "a sunny day",
        ...(model && { model }),
        // The input's own size (a form's default is OpenAI's 1024x1024), fetched by URL: as base64 the largest
        // would pass the 6 MB a synchronous answer can carry.
        size: "auto",
        response_format: "url",
      })
      .withResponse();
    const record = await job(response.headers.get("x-job-id"));
    expect([record.status, record.attempts]).toEqual(["succeeded", 1]);
    // Normalised to what the job's model takes, as the catalog says.
    const rule = catalog.find((m) => m.id === record.model)?.edit?.input as InputRule;
    const [input] = record.input.images;
    const { canvas } = inputLayout({ width, height }, rule);
    expect([input.width, input.height]).toEqual([canvas.width, canvas.height]);
    expect(input.width * input.height).toBeLessThanOrEqual(rule.maxPixels);
    if (model === "placeholder") expect(input.bytes).toBeGreaterThan(11 * 1024 * 1024);
    // The image made is there to fetch, whole, at the input's size or, where the model cannot make that size,
    // the nearest it can (as the model it stands in for would).
    const spec = catalog.find((m) => m.id === record.model) as ModelSpec;
    const expected = sizeProblem(spec, `${input.width}x${input.height}`)
      ? nearestSize(spec, { width: input.width, height: input.height })
      : { width: input.width, height: input.height };
    const made = await pixels(Buffer.from(await (await fetch(data.data?.[0]?.url ?? "")).arrayBuffer()));
    expect([made.width, made.height]).toEqual([expected.width, expected.height]);
  });

  it("refuses a private URL with a 400 naming the parameter (ALLOW_PRIVATE_URLS is off by default)", async () => {
    const res = await api.post("/v1/images/edits", { image: "http://127.0.0.1:9/x.png", prompt: "x" });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      param: "image",
      code: "url_not_allowed",
      type: "invalid_request_error",
    });
  });
});
