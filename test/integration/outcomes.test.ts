import { ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClients } from "../../lib/runtime.ts";
import { credentials } from "../support/emulators.ts";
import { deadLettersFunction, inboxFunction, workerFunction } from "../support/functions.ts";
import { httpClient, type Json } from "../support/http.ts";
import { receiveEvent } from "../support/lambda.ts";
import { loopbackIsPublic, type ServiceStack, startServiceStack } from "../support/service-stack.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.ts";

// Outcomes decided away from the worker's usual path, each through the composition root of the function that
// decides it (so the AWS calls they make are recorded for test/infra/grants.test.ts): a cancel through the API,
// the DLQ consumer failing an abandoned job, the inbox failing an upload at intake, and a worker whose result
// lands after its job was canceled.

let svc: ServiceStack;
let receiver: WebhookReceiver;
let api: ReturnType<typeof httpClient>;

beforeAll(async () => {
  [svc, receiver] = await Promise.all([
    startServiceStack({ worker: false, tenants: ["acme"] }),
    startWebhookReceiver(),
  ]);
  api = httpClient(svc.url, svc.keys.acme);
});
afterAll(async () => {
  await Promise.all([svc?.close(), receiver?.close()]);
});

const eventOf = (body: string) => JSON.parse(body) as { type: string; data: Json };

async function submit(path: string, events: string[]): Promise<Json> {
  const res = await api.post("/v1/jobs", {
    operation: "generate",
    input: { model: "placeholder", prompt: "an outcome", size: "256x256" },
    webhook: { url: receiver.url(path), events },
  });
  expect(res.status).toBe(202);
  return res.body;
}

describe("job events from the API, the DLQ consumer and the inbox", () => {
  it("a job canceled through the API announces job.canceled to its webhook", async () => {
    const job = await submit("/canceled", ["job.canceled"]);
    expect((await api.post(`/v1/jobs/${job.id}/cancel`)).body.status).toBe("canceled");
    const [delivery] = await receiver.waitFor("/canceled", 1);
    expect(eventOf(delivery?.body ?? "{}")).toMatchObject({
      type: "job.canceled",
      data: { id: job.id, status: "canceled" },
    });
  });

  it("a job the DLQ consumer fails announces job.failed to its webhook", async () => {
    const job = await submit("/abandoned", ["job.failed"]);
    // The message its worker never finished, as it reaches the jobs DLQ.
    const { sqs } = svc.stack.emulators.clients;
    const dlq = svc.stack.resources.jobsDlqUrl;
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: dlq,
        MessageBody: JSON.stringify({ v: 1, tenant: "acme", job_id: job.id }),
      }),
    );
    const dlqFunction = deadLettersFunction(svc.config, svc.stack.emulators.clients);
    const result = await dlqFunction.invoke(await receiveEvent(sqs, dlq, 10, 1));
    expect(result.batchItemFailures).toEqual([]);
    const [delivery] = await receiver.waitFor("/abandoned", 1);
    expect(eventOf(delivery?.body ?? "{}")).toMatchObject({
      type: "job.failed",
      data: { id: job.id, status: "failed", error: { code: "retries_exhausted" } },
    });
  });

  it("an upload the inbox cannot take announces its failed job to the webhook in its metadata", async () => {
    const { inbox } = inboxFunction(svc.config, svc.stack.emulators.clients, { urlPolicy: loopbackIsPublic });
    const { s3 } = svc.stack.emulators.clients;
    const key = "inbox/acme/notes.png";
    const body = Buffer.from("not an image at all");
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: svc.stack.names.bucket,
        Key: key,
        Body: body,
        Metadata: { "webhook-url": receiver.url("/intake") },
      }),
    );
    const outcome = await inbox.handle({
      eventVersion: "2.1",
      eventSource: "aws:s3",
      awsRegion: "us-east-1",
      eventTime: new Date().toISOString(),
      eventName: "ObjectCreated:Put",
      s3: {
        s3SchemaVersion: "1.0",
        configurationId: "inbox",
        bucket: { name: svc.stack.names.bucket, arn: `arn:aws:s3:::${svc.stack.names.bucket}` },
        object: {
          key,
          size: body.length,
          eTag: (put.ETag ?? "").replace(/"/g, ""),
          sequencer: "0066000000000001",
        },
      },
    });
    expect(outcome).toBe("created");
    const [delivery] = await receiver.waitFor("/intake", 1);
    expect(eventOf(delivery?.body ?? "{}")).toMatchObject({
      type: "job.failed",
      data: { status: "failed", error: { code: "invalid_image_format" }, metadata: { inbox_key: key } },
    });
  });
});

describe("a result that lands after its job was canceled", () => {
  it("is not kept: the worker deletes the images it stored, and the job stays canceled", async () => {
    const job = await submit("/late", ["job.canceled"]);
    const prefix = `tenants/acme/jobs/${job.id}/`;
    // The worker's own clients: its first output write is held until the API has canceled the job, as when a
    // cancel lands while the images are being stored.
    const clients = createClients(svc.config, { credentials });
    clients.s3.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Key?: string };
        if (context.commandName === "PutObjectCommand" && input.Key?.startsWith(prefix))
          expect((await api.post(`/v1/jobs/${job.id}/cancel`)).body.status).toBe("canceled");
        return next(args);
      },
      { step: "initialize", name: "cancelWhileStoring" },
    );
    // Another process's cancel: this worker learns of it only from its own write, not from a check in between.
    const { runner } = workerFunction({ ...svc.config, CANCEL_CHECK_MS: 60_000 }, clients);
    await expect(runner.run("acme", job.id, 1, () => 60_000)).resolves.toBe("discarded");
    const listed = await svc.stack.emulators.clients.s3.send(
      new ListObjectsV2Command({ Bucket: svc.stack.names.bucket, Prefix: prefix }),
    );
    expect(listed.Contents ?? []).toEqual([]);
    expect((await api.get(`/v1/jobs/${job.id}`)).body).toMatchObject({ status: "canceled", output: null });
    clients.s3.destroy();
  });
});
