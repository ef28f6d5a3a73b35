import { once } from "node:events";
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyStore } from "../../lib/auth/keys.ts";
import type { S3EventRecord } from "../../lib/inbox/events.ts";
import { type Inbox, inboxAttempts, inboxJobId } from "../../lib/inbox/inbox.ts";
import type { MetricName } from "../../lib/metrics.ts";
import { createObservability } from "../../lib/runtime.ts";
import { inboxFunction } from "../support/functions.ts";
import { httpClient, type Json } from "../support/http.ts";
import { picture } from "../support/images.ts";
import { receiveEvent } from "../support/lambda.ts";
import { loopbackIsPublic, type ServiceStack, startServiceStack } from "../support/service-stack.ts";

// S3 uploads under inbox/{tenant}/ → variation jobs. Notifications are written here as S3 writes them (event
// version 2.1, from the AWS documentation's shape), sent through the real inbox queue, and handed to the inbox
// handler as Lambda would; the job then runs on the worker and is read back through the API.

let svc: ServiceStack;
let inbox: Inbox;
let invoke: ReturnType<typeof inboxFunction>["invoke"];
let api: ReturnType<typeof httpClient>;
const recorded: MetricName[] = [];
let sequence = 0;

beforeAll(async () => {
  svc = await startServiceStack({ tenants: ["acme", "other"] });
  const o = createObservability(svc.config, "inbox");
  ({ inbox, invoke } = inboxFunction(svc.config, svc.stack.emulators.clients, {
    urlPolicy: loopbackIsPublic,
    observability: { ...o, metrics: { record: (name) => recorded.push(name) } },
  }));
  api = httpClient(svc.url, svc.keys.acme);
});
afterAll(async () => {
  await svc?.close();
});

const s3 = () => svc.stack.emulators.clients.s3;
const bucket = () => svc.stack.names.bucket;

/** Puts an object and returns the ObjectCreated record S3 would send for it. */
async function upload(
  key: string,
  body: Buffer,
  metadata: Record<string, string> = {},
): Promise<S3EventRecord> {
  await s3().send(new PutObjectCommand({ Bucket: bucket(), Key: key, Body: body, Metadata: metadata }));
  const head = await s3().send(new HeadObjectCommand({ Bucket: bucket(), Key: key }));
  return {
    eventVersion: "2.1",
    eventSource: "aws:s3",
    awsRegion: "us-east-1",
    eventTime: new Date().toISOString(),
    eventName: "ObjectCreated:Put",
    s3: {
      s3SchemaVersion: "1.0",
      configurationId: "inbox",
      bucket: { name: bucket(), arn: `arn:aws:s3:::${bucket()}` },
      object: {
        // S3 URL-encodes keys in events, with '+' for spaces.
        key: encodeURIComponent(key).replace(/%2F/g, "/").replace(/%20/g, "+"),
        size: body.length,
        eTag: (head.ETag ?? "").replace(/"/g, ""),
        sequencer: `0066${String(++sequence).padStart(12, "0")}`,
      },
    },
  };
}

/** Sends notification bodies to the inbox queue and hands what arrives to the handler, as Lambda would. */
async function deliver(...bodies: unknown[]) {
  const queueUrl = svc.stack.resources.inboxQueueUrl as string;
  for (const body of bodies) {
    await svc.stack.emulators.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: typeof body === "string" ? body : JSON.stringify(body),
      }),
    );
  }
  const event = await receiveEvent(svc.stack.emulators.clients.sqs, queueUrl, 10, 0);
  expect(event.Records).toHaveLength(bodies.length);
  return { event, result: await invoke(event) };
}

async function settled(id: string): Promise<Json> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const job = (await api.get(`/v1/jobs/${id}`)).body;
    if (["succeeded", "failed", "canceled"].includes(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`Job ${id} did not settle: ${job.status}`);
    await once(svc.batches, "jobs", { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
  }
}

/** The placeholder model at a small size: quick to run. */
const small = { model: "placeholder", size: "256x256" };

const jobsFor = async (key: string, client = api) =>
  ((await client.get("/v1/jobs?limit=100")).body.data as Json[]).filter((j) => j.metadata.inbox_key === key);

describe("inbox uploads", () => {
  it("become variation jobs with parameters from the metadata, run, and are listed like any job", async () => {
    const original = await picture(96, 64);
    const record = await upload("inbox/acme/portrait.png", original, {
      n: "2",
      size: "1024x640",
      prompt: "in autumn colours",
      team: "design",
    });
    const { result } = await deliver({ Records: [record] });
    expect(result.batchItemFailures).toEqual([]);

    const id = inboxJobId(record);
    const job = await settled(id);
    expect(job).toMatchObject({
      operation: "variation",
      status: "succeeded",
      input: { n: 2, size: "1024x640", prompt: "in autumn colours", image: { width: 96, height: 64 } },
      metadata: { team: "design", inbox_key: "inbox/acme/portrait.png" },
    });
    // The outputs are under the tenant's outputs prefix, and are images of the asked size.
    const listed = await s3().send(
      new ListObjectsV2Command({ Bucket: bucket(), Prefix: `tenants/acme/jobs/${id}/` }),
    );
    expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual([
      `tenants/acme/jobs/${id}/output-0.png`,
      `tenants/acme/jobs/${id}/output-1.png`,
    ]);
    const out = await s3().send(
      new GetObjectCommand({ Bucket: bucket(), Key: `tenants/acme/jobs/${id}/output-0.png` }),
    );
    const meta = await sharp(Buffer.from(await (out.Body?.transformToByteArray() ?? []))).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["png", 1024, 640]);

    const variations = (await api.get("/v1/jobs?operation=variation&status=succeeded")).body.data as Json[];
    expect(variations.map((j) => j.id)).toContain(id);
    // Another tenant sees nothing of it.
    expect((await httpClient(svc.url, svc.keys.other).get(`/v1/jobs/${id}`)).status).toBe(404);
  });

  it("make one job however often, or however concurrently, the notification is delivered", async () => {
    const record = await upload("inbox/acme/twice.png", await picture(32, 32), small);
    const { result } = await deliver({ Records: [record] }, { Records: [record] });
    expect(result.batchItemFailures).toEqual([]);
    const again = await upload("inbox/acme/racing.png", await picture(32, 32), small);
    const outcomes = await Promise.all([inbox.handle(again), inbox.handle(again), inbox.handle(again)]);
    expect(outcomes.sort()).toEqual(["created", "duplicate", "duplicate"]);
    await settled(inboxJobId(record));
    await settled(inboxJobId(again));
    expect(await jobsFor("inbox/acme/twice.png")).toHaveLength(1);
    expect(await jobsFor("inbox/acme/racing.png")).toHaveLength(1);
    // A later write of the same key is a new object, and a new job.
    const rewritten = await upload("inbox/acme/twice.png", await picture(40, 40), small);
    expect(await inbox.handle(rewritten)).toBe("created");
    await settled(inboxJobId(rewritten));
    expect(await jobsFor("inbox/acme/twice.png")).toHaveLength(2);
  });

  it("decode keys with spaces and non-ASCII characters", async () => {
    const key = "inbox/acme/summer photo été+1.png";
    const record = await upload(key, await picture(32, 32), small);
    expect(record.s3.object.key).toBe("inbox/acme/summer+photo+%C3%A9t%C3%A9%2B1.png");
    expect((await deliver({ Records: [record] })).result.batchItemFailures).toEqual([]);
    expect(await settled(inboxJobId(record))).toMatchObject({
      status: "succeeded",
      metadata: { inbox_key: key },
    });
  });

  it("turn bad metadata and non-images into failed jobs with a clear error, and acknowledge them", async () => {
    const cases: [string, Buffer, Record<string, string>, string, RegExp][] = [
      ["inbox/acme/n.png", await picture(32, 32), { n: "abc" }, "invalid_metadata", /'x-amz-meta-n'/],
      [
        "inbox/acme/size.png",
        await picture(32, 32),
        { size: "bogus" },
        "invalid_metadata",
        /'x-amz-meta-size'/,
      ],
      ["inbox/acme/notes.png", Buffer.from("not an image at all"), {}, "invalid_image_format", /not a PNG/],
      [
        "inbox/acme/hook.png",
        await picture(32, 32),
        { "webhook-url": "http://169.254.169.254/latest/meta-data" },
        "invalid_metadata",
        /'x-amz-meta-webhook-url'.*private/,
      ],
    ];
    const records = await Promise.all(cases.map(([key, body, meta]) => upload(key, body, meta)));
    const { result } = await deliver(...records.map((r) => ({ Records: [r] })));
    expect(result.batchItemFailures).toEqual([]);
    for (const [i, [key, , , code, message]] of cases.entries()) {
      const job = (await api.get(`/v1/jobs/${inboxJobId(records[i] as S3EventRecord)}`)).body;
      expect([job.status, job.error.code, job.metadata.inbox_key], key).toEqual(["failed", code, key]);
      expect(job.error.message).toMatch(message);
    }
    const failed = (await api.get("/v1/jobs?status=failed&operation=variation&limit=100")).body
      .data as Json[];
    expect(failed.map((j) => j.metadata.inbox_key)).toEqual(
      expect.arrayContaining(cases.map(([key]) => key)),
    );
    // Nothing was queued for them: no worker ever sees a job that cannot run.
    expect(failed.every((j) => j.attempts === 0)).toBe(true);
  });

  it("apply the key's daily image allowance: an upload beyond it is a failed job, not a queued one", async () => {
    const keys = new KeyStore(svc.stack.emulators.clients.dynamodb, svc.stack.names.table);
    const { key } = await keys.create("thrifty", "uploads", { images_per_day: 1 });
    const record = await upload("inbox/thrifty/two.png", await picture(32, 32), { ...small, n: "2" });
    expect(await inbox.handle(record)).toBe("created");
    const job = (await httpClient(svc.url, key).get(`/v1/jobs/${inboxJobId(record)}`)).body;
    expect([job.status, job.error.code]).toEqual(["failed", "daily_image_limit_exceeded"]);
  });

  it("wait for a concurrency slot a few times, then fail the upload rather than drop it", async () => {
    const keys = new KeyStore(svc.stack.emulators.clients.dynamodb, svc.stack.names.table);
    const { key } = await keys.create("busy", "uploads", { concurrent_jobs: 1 });
    await svc.stopWorker(); // the first job stays queued and holds the key's only slot
    try {
      const first = await upload("inbox/busy/one.png", await picture(32, 32), small);
      expect(await inbox.handle(first)).toBe("created");
      const second = await upload("inbox/busy/two.png", await picture(32, 32), small);
      // Thrown: the notification is reported failed and comes back after the queue's visibility timeout.
      await expect(inbox.handle(second, 1)).rejects.toMatchObject({ code: "concurrency_limit_exceeded" });
      expect(await inbox.handle(second, inboxAttempts)).toBe("created");
      const job = (await httpClient(svc.url, key).get(`/v1/jobs/${inboxJobId(second)}`)).body;
      expect([job.status, job.error.code]).toEqual(["failed", "concurrency_limit_exceeded"]);
    } finally {
      svc.startWorker();
    }
  });

  it("acknowledge S3's test event, reject uploads no tenant owns, and leave non-events to the DLQ", async () => {
    const test = {
      Service: "Amazon S3",
      Event: "s3:TestEvent",
      Time: new Date().toISOString(),
      Bucket: bucket(),
      RequestId: "R",
      HostId: "H",
    };
    const stranger = await upload("inbox/nobody/x.png", await picture(32, 32));
    const loose = await upload("inbox/x.png", await picture(32, 32));
    const before = recorded.length;
    const { event, result } = await deliver(test, { Records: [stranger] }, { Records: [loose] }, "not json", {
      Records: [{ eventSource: "aws:s3" }],
    });
    // Only what is not an S3 event at all is reported failed: the queue sends it to the DLQ after a few receives.
    const failedBodies = result.batchItemFailures.map(
      (f) => event.Records.find((r) => r.messageId === f.itemIdentifier)?.body,
    );
    expect(failedBodies.sort()).toEqual(["not json", '{"Records":[{"eventSource":"aws:s3"}]}'].sort());
    expect(recorded.slice(before).filter((m) => m === "InboxRejected")).toHaveLength(4);
    // No job was made for anyone.
    for (const r of [stranger, loose]) expect(await inbox.handle(r)).toBe("rejected");
    expect((await api.get(`/v1/jobs/${inboxJobId(stranger)}`)).status).toBe(404);
  });

  it("ignore folder markers and objects replaced before they were read", async () => {
    expect(await inbox.handle(await upload("inbox/acme/folder/", Buffer.alloc(0)))).toBe("ignored");
    const first = await upload("inbox/acme/replaced.png", await picture(32, 32));
    await upload("inbox/acme/replaced.png", await picture(48, 48));
    expect(await inbox.handle(first)).toBe("ignored");
    expect(await jobsFor("inbox/acme/replaced.png")).toHaveLength(0);
  });
});
