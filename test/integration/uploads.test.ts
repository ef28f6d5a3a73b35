import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { responseSchemas } from "../../lib/api/reference/responses.ts";
import { credentials } from "../support/emulators.ts";
import { httpClient, type Json } from "../support/http.ts";
import { picture, pixels, withHole } from "../support/images.ts";
import { type ServiceStack, startServiceStack } from "../support/service-stack.ts";
import { presignedRequestValid } from "../support/sigv4.ts";

// POST /v1/uploads end to end: a presigned PUT to the emulator's bucket, then the upload_id as an image input
// in every form the API takes one. fauxqs checks no signatures, so what S3 would refuse is checked by an
// independent SigV4 verifier over the same URL (test/support/sigv4.ts).

const maxImageBytes = 2 * 1024 * 1024;
let svc: ServiceStack;
let acme: ReturnType<typeof httpClient>;
let other: ReturnType<typeof httpClient>;

beforeAll(async () => {
  svc = await startServiceStack({
    tenants: ["acme", "other"],
    env: { MAX_IMAGE_BYTES: String(maxImageBytes) },
  });
  acme = httpClient(svc.url, svc.keys.acme);
  other = httpClient(svc.url, svc.keys.other);
});
afterAll(async () => {
  await svc?.close();
});

/** Creates an upload for `bytes` and PUTs them, as a client would. */
async function upload(bytes: Buffer): Promise<Json> {
  const created = await acme.post("/v1/uploads", { bytes: bytes.length });
  expect(created.status).toBe(201);
  const put = await fetch(created.body.upload_url, {
    method: created.body.method,
    headers: created.body.headers,
    body: bytes,
  });
  expect(put.status).toBe(200);
  return created.body;
}

async function settled(id: string): Promise<Json> {
  for (let i = 0; i < 200; i++) {
    const job = (await acme.get(`/v1/jobs/${id}`)).body;
    if (["succeeded", "failed", "canceled"].includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`job ${id} did not settle`);
}

describe("POST /v1/uploads", () => {
  it("answers with a short-lived PUT into the caller's own prefix, its size signed", async () => {
    const before = Math.floor(Date.now() / 1000);
    const res = await acme.post("/v1/uploads", { bytes: 123_456 });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = responseSchemas.Upload.parse(res.body);
    expect(body.id).toMatch(/^upload_[0-9a-z]{26}$/);
    expect(body.headers).toEqual({ "content-length": "123456" });
    expect(body.expires_at - before).toBeGreaterThanOrEqual(899);
    expect(body.expires_at - before).toBeLessThanOrEqual(901);
    const url = new URL(body.upload_url);
    expect(url.origin).toBe(svc.stack.emulators.awsEndpoint);
    expect(url.pathname).toBe(`/${svc.stack.names.bucket}/uploads/acme/${body.id}`);
    expect(url.searchParams.get("X-Amz-Expires")).toBe("900");
    expect(url.searchParams.get("X-Amz-SignedHeaders")?.split(";")).toContain("content-length");
    // No checksum of an empty body for S3 to hold the upload to.
    expect([...url.searchParams.keys()].filter((k) => /checksum/i.test(k))).toEqual([]);
  });

  it("is refused by S3 for any size but the one announced, and for another key", async () => {
    const body = (await acme.post("/v1/uploads", { bytes: 1000 })).body;
    const secret = credentials.secretAccessKey;
    expect(presignedRequestValid(body.upload_url, "PUT", { "content-length": "1000" }, secret)).toBe(true);
    expect(presignedRequestValid(body.upload_url, "PUT", { "content-length": "1001" }, secret)).toBe(false);
    expect(presignedRequestValid(body.upload_url, "PUT", { "content-length": "999999" }, secret)).toBe(false);
    const elsewhere = body.upload_url.replace("/uploads/acme/", "/uploads/other/");
    expect(presignedRequestValid(elsewhere, "PUT", { "content-length": "1000" }, secret)).toBe(false);
  });

  it("refuses a size over the per-image limit, and sizes that are not one", async () => {
    const tooLarge = await acme.post("/v1/uploads", { bytes: maxImageBytes + 1 });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.error).toMatchObject({ param: "bytes", type: "invalid_request_error" });
    for (const bytes of [0, -1, 1.5, "10", null]) {
      const res = await acme.post("/v1/uploads", { bytes });
      expect([res.status, res.body.error.param]).toEqual([400, "bytes"]);
    }
    expect((await acme.post("/v1/uploads", { bytes: 10, purpose: "x" })).status).toBe(400);
  });
});

describe("an upload_id as an image", () => {
  it("edits an uploaded image and mask (JSON images[] and mask); the job succeeds", async () => {
    const image = await picture(320, 240, "jpeg");
    const [img, mask] = await Promise.all([
      upload(image),
      upload(await withHole(320, 240, { left: 0, top: 0, width: 80, height: 80 })),
    ]);
    const res = await acme.post("/v1/images/edits", {
      model: "placeholder",
      images: [{ upload_id: img.id }],
      mask: { upload_id: mask.id },
      prompt: "a kite",
      response_format: "b64_json",
    });
    expect(res.status).toBe(200);
    const job = await settled(res.headers.get("x-job-id") ?? "");
    expect([job.status, job.input.mask_source]).toEqual(["succeeded", "mask"]);
    expect(job.input.images.map((i: Json) => [i.width, i.height])).toEqual([[320, 240]]);
    const out = await pixels(Buffer.from(res.body.data[0].b64_json, "base64"));
    expect([out.width, out.height]).toEqual([320, 240]);
  });

  it("is taken as a multipart text field and as a job's input (a variation of an upload)", async () => {
    const img = await upload(await picture(200, 200));
    const form = new FormData();
    form.set("image", img.id);
    form.set("model", "placeholder");
    const multipart = await fetch(`${svc.url}/v1/images/variations`, {
      method: "POST",
      headers: { authorization: `Bearer ${svc.keys.acme}` },
      body: form,
    });
    expect(multipart.status).toBe(200);
    const job = await acme.post("/v1/jobs", {
      operation: "variation",
      input: { model: "placeholder", image: img.id },
    });
    expect(job.status).toBe(202);
    const done = await settled(job.body.id);
    expect([done.status, done.input.image.width]).toEqual(["succeeded", 200]);
  });

  it("is not found for another tenant, nor before its bytes are PUT; a malformed one is refused", async () => {
    const img = await upload(await picture(64, 64));
    const theirs = await other.post("/v1/images/edits", { images: [{ upload_id: img.id }], prompt: "x" });
    expect(theirs.status).toBe(400);
    expect(theirs.body.error).toMatchObject({ param: "images[0]", code: "upload_not_found" });
    const pending = (await acme.post("/v1/uploads", { bytes: 100 })).body;
    const early = await acme.post("/v1/jobs", {
      operation: "edit",
      input: { image: pending.id, prompt: "x" },
    });
    expect(early.status).toBe(400);
    expect(early.body.error).toMatchObject({ param: "input.image", code: "upload_not_found" });
    const malformed = await acme.post("/v1/images/edits", { image: { upload_id: "upload_x" }, prompt: "x" });
    expect([malformed.status, malformed.body.error.param]).toEqual([400, "image"]);
  });
});
