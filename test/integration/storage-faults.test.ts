import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandboxRequestBodyLimitBytes } from "../../infra/sandbox/emulators.ts";
import { PayloadTooLargeError, toApiError } from "../../lib/errors.ts";
import { TooLarge } from "../../lib/jobs/errors.ts";
import { storeSource } from "../../lib/jobs/operations/edit.ts";
import type { ProviderRegistry } from "../../lib/jobs/registry.ts";
import { ImageSources } from "../../lib/jobs/sources.ts";
import { ImageStore } from "../../lib/storage/images.ts";
import { httpClient, type Json } from "../support/http.ts";
import { picture } from "../support/images.ts";
import { type ServiceStack, startServiceStack } from "../support/service-stack.ts";

// Storage faults that no retry can fix end at once, with a code that says which: the API answers a 4xx, not a
// 503 "please retry"; the worker fails the job on its first attempt instead of retrying it into internal_error.

let svc: ServiceStack;
let api: ReturnType<typeof httpClient>;

beforeAll(async () => {
  svc = await startServiceStack({ tenants: ["acme"], worker: false });
  api = httpClient(svc.url, svc.keys.acme);
});
afterAll(async () => {
  await svc?.close();
});

describe("storage faults", () => {
  it("answers 413 for an input the store refuses by size, not 503 'please retry'", async () => {
    const { s3 } = svc.stack.emulators.clients;
    // One request for the whole object, as before multipart: the sandbox's emulator refuses bodies over 101 MiB
    // (infra/sandbox/emulators.ts), as S3 refuses a single PUT over 5 GB.
    const images = new ImageStore(s3, svc.stack.names.bucket, 60, { partBytes: 1024 * 1024 * 1024 });
    const sources = new ImageSources(async () => undefined, images, {
      maxBytes: 128 * 1024 * 1024,
      fetchTimeoutMs: 1000,
      allowPrivate: false,
    });
    const ctx = { registry: {} as ProviderRegistry, sources, tenant: "acme", jobId: "job_x" };
    const png = Buffer.alloc(sandboxRequestBodyLimitBytes + 1024 * 1024);
    const err = await storeSource(ctx, "image-0", png, { bytes: png }, { width: 2400, height: 1800 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TooLarge);
    expect(toApiError(err)).toBeInstanceOf(PayloadTooLargeError);
    expect(toApiError(err).toBody().error).toMatchObject({
      code: "image_too_large",
      type: "invalid_request_error",
    });
  });

  it("fails a job whose input is no longer stored on its first attempt, with input_image_missing", async () => {
    const created = await api.post("/v1/jobs", {
      operation: "edit",
      input: { model: "placeholder", image: (await picture(64, 64)).toString("base64"), prompt: "x" },
    });
    expect(created.status).toBe(202);
    const job: Json = created.body;
    await svc.stack.emulators.clients.s3.send(
      new DeleteObjectCommand({ Bucket: svc.stack.names.bucket, Key: `sources/acme/${job.id}/image-0.png` }),
    );
    svc.startWorker();
    let record: Json = job;
    for (let i = 0; i < 100 && !["succeeded", "failed"].includes(record.status); i++) {
      await new Promise((r) => setTimeout(r, 50));
      record = (await api.get(`/v1/jobs/${job.id}`)).body;
    }
    expect(record.status).toBe("failed");
    expect(record.error).toMatchObject({ code: "input_image_missing", type: "invalid_request_error" });
    expect(record.attempts).toBe(1);
    await svc.stopWorker();
  });
});
