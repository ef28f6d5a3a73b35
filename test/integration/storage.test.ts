import { createHash, randomBytes } from "node:crypto";
import { HeadObjectCommand, ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StorageError } from "../../lib/jobs/ports/storage.ts";
import { ImageStore } from "../../lib/storage/images.ts";
import { startTestStack, type TestStack } from "../support/emulators.ts";

// The image store against the sandbox's S3 emulator (fauxqs), whose request cap (11 MiB, raised for the sandbox by
// patches/fauxqs+2.4.1.patch) stands in for S3's 5 GB single PUT: objects larger than a part go up in parts.

let stack: TestStack;
let store: ImageStore;

beforeAll(async () => {
  stack = await startTestStack();
  store = new ImageStore(stack.emulators.clients.s3, stack.names.bucket, 60);
});
afterAll(async () => {
  await stack?.emulators.stop();
});

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("storing images of any size", () => {
  it.each([
    ["under one part", 3 * 1024 * 1024],
    ["over the emulator's 11 MiB request cap", 12 * 1024 * 1024],
    ["a 50 MB PNG, the largest input a model takes", 50 * 1024 * 1024],
  ])("stores and reads back an object %s, byte for byte", async (_, size) => {
    const body = randomBytes(size);
    const key = `sources/t/${size}.png`;
    await store.put(key, body, "png", sha256(body));
    const back = await store.get(key);
    expect(back.length).toBe(size);
    expect(sha256(back)).toBe(sha256(body));
    const head = await stack.emulators.clients.s3.send(
      new HeadObjectCommand({ Bucket: stack.names.bucket, Key: key }),
    );
    expect([head.ContentType, head.Metadata?.sha256]).toEqual(["image/png", sha256(body)]);
  });

  it("takes a presigned upload's single PUT over fauxqs's 11 MiB request cap, as S3 does", async () => {
    const body = randomBytes(20 * 1024 * 1024);
    const key = "uploads/t/upload_large";
    const put = await store.presignPut(key, body.length, 60);
    const res = await fetch(put.url, { method: "PUT", headers: put.headers, body });
    expect(res.status).toBe(200);
    expect(sha256(await store.get(key))).toBe(sha256(body));
  });

  it("leaves no multipart upload behind", async () => {
    const uploads = await stack.emulators.clients.s3.send(
      new ListMultipartUploadsCommand({ Bucket: stack.names.bucket }),
    );
    expect(uploads.Uploads ?? []).toEqual([]);
  });

  it("says whether a failure can succeed later: a refusal cannot, a missing object is missing", async () => {
    const missing = await store.get("sources/t/none.png").catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(StorageError);
    expect([(missing as StorageError).failure, (missing as StorageError).retryable]).toEqual([
      "not_found",
      false,
    ]);
    const elsewhere = new ImageStore(stack.emulators.clients.s3, "no-such-bucket", 60);
    const refused = await elsewhere
      .put("k", Buffer.from("x"), "png", sha256(Buffer.from("x")))
      .catch((e) => e);
    expect([(refused as StorageError).failure, (refused as StorageError).retryable]).toEqual([
      "rejected",
      false,
    ]);
  });
});
