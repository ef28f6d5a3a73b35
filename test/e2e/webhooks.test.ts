import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { resourceNames } from "../../infra/resources.ts";
import { httpClient, type Json } from "../support/http.ts";
import { picture } from "../support/images.ts";
import { type SandboxProcess, startSandboxProcess } from "../support/sandbox-process.ts";
import { startWebhookReceiver } from "../support/webhook-receiver.ts";

// The async example of docs/jobs-and-webhooks.md against `npm start`: submit with a webhook, and a receiver that verifies the
// signature with the standardwebhooks package in a few lines.

describe("sandbox: async jobs with a webhook receiver", () => {
  let sandbox: SandboxProcess;
  let receiver: Server;
  const events: Json[] = [];
  let eventArrived: () => void = () => undefined;
  const firstEvent = new Promise<void>((resolve) => {
    eventArrived = resolve;
  });
  let refuseNext = 1;
  let secret = "";

  beforeAll(async () => {
    sandbox = await startSandboxProcess({ ALLOW_PRIVATE_URLS: "true", WEBHOOK_RETRY_SCHEDULE: "1,1" });
    secret = (await httpClient(sandbox.url, sandbox.key).get("/v1/webhooks/secret")).body.secret;

    // The receiver, as in docs/jobs-and-webhooks.md.
    const wh = new Webhook(secret);
    receiver = createServer(async (req, res) => {
      let body = "";
      for await (const chunk of req) body += chunk;
      if (refuseNext-- > 0) return res.writeHead(500).end(); // the first delivery fails: it is retried
      try {
        events.push(wh.verify(body, req.headers as Record<string, string>));
        res.writeHead(204).end();
        eventArrived();
      } catch {
        res.writeHead(400).end();
      }
    });
    receiver.listen(0, "127.0.0.1");
    await once(receiver, "listening");
  });
  afterAll(async () => {
    await sandbox?.stop();
    receiver?.closeAllConnections();
    receiver?.close();
  });

  it("delivers verified, retried events for a job submitted with a webhook and an Idempotency-Key", async () => {
    const api = httpClient(sandbox.url, sandbox.key);
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/image-jobs`;
    const request = {
      operation: "generate",
      input: { prompt: "a lighthouse at dawn", size: "1024x1024" },
      webhook: { url, events: ["job.succeeded", "job.failed", "job.canceled"] },
      metadata: { user: "42" },
    };
    const headers = { "idempotency-key": "signup-avatar-42", prefer: "wait=10" };
    const created = await api.post("/v1/jobs", request, headers);
    expect([created.status, created.body.status]).toEqual([201, "succeeded"]);
    expect(created.headers.get("preference-applied")).toBe("wait=10");
    const replay = await api.post("/v1/jobs", request, headers);
    expect(replay.body.id).toBe(created.body.id);

    await firstEvent;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: "job.succeeded",
      data: { id: created.body.id, status: "succeeded", metadata: { user: "42" } },
    });
    // The deliverer records the attempt after the receiver has answered, so the record may trail the event.
    await vi.waitFor(
      async () => {
        const job = (await api.get(`/v1/jobs/${created.body.id}`)).body;
        expect(job.webhook.deliveries[0].attempts.map((a: Json) => a.status)).toEqual([500, 204]);
      },
      { timeout: 5_000, interval: 50 },
    );

    const listed = await api.get("/v1/jobs?status=succeeded&limit=1");
    expect(listed.body.data[0].id).toBe(created.body.id);
  });

  it("turns an image uploaded under inbox/{tenant}/ into a job that notifies the webhook in its metadata", async () => {
    const hooks = await startWebhookReceiver();
    const s3 = new S3Client({
      region: "us-east-1",
      endpoint: sandbox.awsEndpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: "sandbox", secretAccessKey: "sandbox" },
    });
    try {
      // What `aws s3 cp photo.png s3://<bucket>/inbox/local/ --metadata ...` does.
      await s3.send(
        new PutObjectCommand({
          Bucket: resourceNames.bucket,
          Key: "inbox/local/holiday photo.png",
          Body: await picture(96, 64),
          Metadata: {
            model: "placeholder",
            size: "256x256",
            "webhook-url": hooks.url("/inbox"),
            album: "2026",
          },
        }),
      );
      const [started, succeeded] = await hooks.waitFor("/inbox", 2, 20_000);
      const wh = new Webhook(secret);
      const payloads = [started, succeeded].map(
        (d) => wh.verify(d?.body ?? "", d?.headers as Record<string, string>) as Json,
      );
      expect(payloads.map((p) => p.type)).toEqual(["job.started", "job.succeeded"]);
      const job = payloads[1].data;
      expect(job).toMatchObject({
        operation: "variation",
        status: "succeeded",
        metadata: { album: "2026", inbox_key: "inbox/local/holiday photo.png" },
      });
      const image = await fetch(job.output.images[0].url);
      const meta = await sharp(Buffer.from(await image.arrayBuffer())).metadata();
      expect([image.status, meta.format, meta.width, meta.height]).toEqual([200, "png", 256, 256]);
      const listed = await httpClient(sandbox.url, sandbox.key).get("/v1/jobs?operation=variation&limit=1");
      expect(listed.body.data[0].id).toBe(job.id);
    } finally {
      s3.destroy();
      await hooks.close();
    }
  });
});
