import { lookup } from "node:dns/promises";
import { once } from "node:events";
import { hostname } from "node:os";
import { UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cancelReasons, type Job, type JobEventType, newJobId } from "../../lib/jobs/model.ts";
import { JobStore } from "../../lib/jobs/store.ts";
import { jobKey } from "../../lib/layout/keys.ts";
import { isPrivateAddress } from "../../lib/net/outbound.ts";
import { createClients } from "../../lib/runtime.ts";
import { credentials } from "../support/emulators.ts";
import { quietObservability, webhooksFunction, workerFunction } from "../support/functions.ts";
import { httpClient, type Json } from "../support/http.ts";
import { loopbackIsPublic, type ServiceStack, startServiceStack } from "../support/service-stack.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.ts";

// Webhooks end to end in one process: the API records a job with a webhook, the worker runs it on the
// placeholder provider, the deliverer signs and sends each event to a local receiver. Signatures are
// checked with `standardwebhooks`, the spec's reference library, never with this project's own code.

const headersOf = (d: { headers: Json }) => d.headers as Record<string, string>;

describe("webhooks", () => {
  let svc: ServiceStack;
  let receiver: WebhookReceiver;
  let api: ReturnType<typeof httpClient>;

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    svc = await startServiceStack({
      env: { WEBHOOK_RETRY_SCHEDULE: "1,1,1" },
      tenants: ["acme", "other", "fresh"],
    });
    api = httpClient(svc.url, svc.keys.acme);
  });
  afterAll(async () => {
    await svc?.close();
    await receiver?.close();
  });

  const submit = (webhook: Json, extra: Json = {}) =>
    api.post("/v1/jobs", {
      operation: "generate",
      input: { prompt: "a heron", size: "1024x1024" },
      webhook,
      ...extra,
    });

  /** The job's delivery record for `type`, once `done` holds for it; rechecked after each webhook batch. */
  async function delivery(
    jobId: string,
    type: string,
    done: (d: Json) => boolean = (d) => d.status !== "pending",
  ) {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const job = (await api.get(`/v1/jobs/${jobId}`)).body;
      const d = job.webhook?.deliveries.find((x: Json) => x.type === type);
      if (d && done(d)) return d;
      if (Date.now() > deadline) throw new Error(`Delivery of ${type} did not settle: ${JSON.stringify(d)}`);
      await once(svc.batches, "webhooks", { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
    }
  }

  it("signs every event so the reference library verifies it, with the job as data", async () => {
    const secret = (await api.get("/v1/webhooks/secret")).body.secret as string;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const created = await submit({ url: receiver.url("/signed") });
    expect(created.status).toBe(202);
    const deliveries = await receiver.waitFor("/signed", 2);
    const verifier = new Webhook(secret);
    const payloads = deliveries.map((d) => verifier.verify(d.body, headersOf(d)) as Json);
    expect(payloads.map((p) => p.type).sort()).toEqual(["job.started", "job.succeeded"]);
    const succeeded = payloads.find((p) => p.type === "job.succeeded");
    expect(succeeded.data.id).toBe(created.body.id);
    expect(succeeded.data.status).toBe("succeeded");
    expect(succeeded.data.output.images[0].url).toMatch(/X-Amz-Signature=/);
    expect(succeeded.data.webhook).toEqual({ url: receiver.url("/signed"), events: expect.any(Array) });
    expect(Date.parse(succeeded.timestamp)).toBeGreaterThan(0);
    expect(new Set(deliveries.map((d) => d.headers["webhook-id"])).size).toBe(2);
    const first = deliveries[0] as (typeof deliveries)[number];
    expect(() =>
      verifier.verify(first.body.replace(/"status":"\w+"/, '"status":"x"'), headersOf(first)),
    ).toThrow();
    expect(() =>
      new Webhook("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").verify(first.body, headersOf(first)),
    ).toThrow();
  });

  it("sends only the subscribed events", async () => {
    const created = await submit({ url: receiver.url("/filtered"), events: ["job.succeeded"] });
    await delivery(created.body.id, "job.succeeded");
    const job = (await api.get(`/v1/jobs/${created.body.id}`)).body;
    expect(job.webhook.deliveries.map((d: Json) => d.type)).toEqual(["job.succeeded"]);
    expect(receiver.received.filter((r) => r.path === "/filtered")).toHaveLength(1);
  });

  it.concurrent("retries after 500, 500 on the configured schedule with the same webhook-id, recording every attempt", async ({
    expect,
  }) => {
    const secret = (await api.get("/v1/webhooks/secret")).body.secret as string;
    receiver.script("/flaky", { status: 500 }, { status: 500 });
    const created = await submit({ url: receiver.url("/flaky"), events: ["job.succeeded"] });
    const tries = await receiver.waitFor("/flaky", 3);
    expect(new Set(tries.map((t) => t.headers["webhook-id"])).size).toBe(1);
    // Each attempt is signed afresh (its own timestamp) and verifies.
    for (const t of tries)
      expect((new Webhook(secret).verify(t.body, headersOf(t)) as Json).type).toBe("job.succeeded");
    // Schedule "1,1,1": about a second between attempts (±10% jitter).
    const gaps = tries.slice(1).map((t, i) => t.at - (tries[i] as (typeof tries)[number]).at);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(850);
    const d = await delivery(created.body.id, "job.succeeded");
    expect(d.status).toBe("delivered");
    expect(d.webhook_id).toBe(tries[0]?.headers["webhook-id"]);
    expect(d.attempts.map((a: Json) => a.status)).toEqual([500, 500, 200]);
    for (const a of d.attempts) {
      expect(Date.parse(a.at)).toBeGreaterThan(0);
      expect(a.latency_ms).toBeGreaterThanOrEqual(0);
    }
    expect(await receiver.waitFor("/flaky", 3)).toHaveLength(3);
  });

  it.concurrent("waits as long as Retry-After asks when that is longer than the schedule", async ({
    expect,
  }) => {
    receiver.script("/busy", { status: 429, headers: { "retry-after": "3" } });
    const created = await submit({ url: receiver.url("/busy"), events: ["job.succeeded"] });
    const tries = await receiver.waitFor("/busy", 2);
    expect((tries[1]?.at ?? 0) - (tries[0]?.at ?? 0)).toBeGreaterThanOrEqual(2_900);
    expect((await delivery(created.body.id, "job.succeeded")).attempts.map((a: Json) => a.status)).toEqual([
      429, 200,
    ]);
  });

  it.concurrent("gives up when the schedule is used up", async ({ expect }) => {
    receiver.script("/down", ...Array.from({ length: 4 }, () => ({ status: 503 })));
    const created = await submit({ url: receiver.url("/down"), events: ["job.succeeded"] });
    const d = await delivery(created.body.id, "job.succeeded");
    expect([d.status, d.reason, d.attempts.length, d.next_attempt_at]).toEqual([
      "failed",
      "retries_exhausted",
      4,
      null,
    ]);
    expect(receiver.received.filter((r) => r.path === "/down")).toHaveLength(4);
  });

  it("stops sending to an endpoint that answers 410 Gone, until it is enabled again", async () => {
    receiver.script("/gone", { status: 410 });
    const first = await submit({ url: receiver.url("/gone"), events: ["job.succeeded"] });
    const d = await delivery(first.body.id, "job.succeeded");
    expect([d.status, d.reason, d.attempts.length]).toEqual(["failed", "endpoint_gone", 1]);

    const second = await submit({ url: receiver.url("/gone"), events: ["job.succeeded"] });
    const skipped = await delivery(second.body.id, "job.succeeded");
    expect([skipped.status, skipped.reason, skipped.attempts]).toEqual(["skipped", "endpoint_disabled", []]);
    expect(receiver.received.filter((r) => r.path === "/gone")).toHaveLength(1);

    const enabled = await api.post("/v1/webhooks/endpoints/enable", { url: receiver.url("/gone") });
    expect(enabled.body).toMatchObject({ enabled: true, was_disabled: true });
    const third = await submit({ url: receiver.url("/gone"), events: ["job.succeeded"] });
    expect((await delivery(third.body.id, "job.succeeded")).status).toBe("delivered");
    expect(receiver.received.filter((r) => r.path === "/gone")).toHaveLength(2);
  });

  it("signs with both secrets during a rotation", async () => {
    const rotating = httpClient(svc.url, svc.keys.other);
    const old = (await rotating.get("/v1/webhooks/secret")).body;
    const rotated = await rotating.post("/v1/webhooks/secret/rotate");
    expect(rotated.status).toBe(200);
    expect(rotated.headers.get("cache-control")).toBe("no-store");
    expect(rotated.body.secret).not.toBe(old.secret);
    expect(Date.parse(rotated.body.previous_secret_expires_at) - Date.now()).toBeGreaterThan(
      23 * 3600 * 1000,
    );
    expect((await rotating.get("/v1/webhooks/secret")).body.secret).toBe(rotated.body.secret);
    const created = await rotating.post("/v1/jobs", {
      operation: "generate",
      input: { prompt: "two keys" },
      webhook: { url: receiver.url("/rotation"), events: ["job.succeeded"] },
    });
    expect(created.status).toBe(202);
    const [sent] = await receiver.waitFor("/rotation", 1);
    if (!sent) throw new Error("no delivery");
    expect(String(sent.headers["webhook-signature"]).split(" ")).toHaveLength(2);
    for (const secret of [old.secret, rotated.body.secret]) {
      expect((new Webhook(secret).verify(sent.body, headersOf(sent)) as Json).data.id).toBe(created.body.id);
    }
  });

  it("makes one secret when first uses race", async () => {
    const fresh = await Promise.all(
      Array.from({ length: 5 }, () => httpClient(svc.url, svc.keys.fresh).get("/v1/webhooks/secret")),
    );
    expect(new Set(fresh.map((r) => r.body.secret)).size).toBe(1);
  });

  it.each([
    ["http://10.0.0.1/hook", "private"],
    ["http://127.0.0.2:8080/hook", "private"],
    ["http://169.254.169.254/latest/meta-data/", "private"],
    ["http://localhost:3000/hook", "private"],
    ["ftp://example.com/hook", "scheme"],
    ["not a url", "valid URL"],
  ])("refuses the webhook URL %s with a 400 naming webhook.url", async (url, why) => {
    const res = await submit({ url });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe("webhook.url");
    expect(res.body.error.message).toContain(why);
  });
});

describe("webhook delivery guarantees", () => {
  let svc: ServiceStack;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    svc = await startServiceStack({ worker: false });
  });
  afterAll(async () => {
    await svc?.close();
    await receiver?.close();
  });

  const store = () => new JobStore(svc.stack.emulators.clients.dynamodb, svc.stack.names.table);

  async function queuedJob(path: string, events: JobEventType[]) {
    const now = Date.now();
    const job: Job = {
      id: newJobId(now),
      tenant: "acme",
      operation: "generate",
      status: "queued",
      model: "gpt-image-2",
      provider: "placeholder",
      input: {
        prompt: "p",
        model: "gpt-image-2",
        n: 1,
        size: "1024x1024",
        output_format: "png",
        response_format: "url",
      },
      webhook: { url: receiver.url(path), events },
      webhook_events: {},
      created_at: now,
      updated_at: now,
      attempts: 0,
    };
    await store().create(job);
    return job;
  }

  it("sends an event once however many messages race for the same attempt", async () => {
    const job = await queuedJob("/race", ["job.canceled"]);
    // Recorded on the job by the transition, not yet handed to the queue.
    await store().cancel(job, cancelReasons.requested(), Date.now());
    const { deliverer } = webhooksFunction(svc.config, svc.stack.emulators.clients, {
      urlPolicy: loopbackIsPublic,
    });
    const message = { v: 1 as const, tenant: "acme", job_id: job.id, event: "canceled", attempt: 1 };
    const outcomes = await Promise.allSettled([1, 2, 3, 4].map(() => deliverer.deliver(message)));
    const delivered = outcomes.filter((o) => o.status === "fulfilled" && o.value === "delivered");
    expect(delivered).toHaveLength(1);
    // Late duplicates find it delivered.
    expect(await deliverer.deliver(message)).toBe("dropped");
    expect(await deliverer.deliver({ ...message, attempt: 2 })).toBe("dropped");
    expect(receiver.received.filter((r) => r.path === "/race")).toHaveLength(1);
  });

  it("checks the address again at delivery: a name that resolves to a private address is blocked", async () => {
    const name = hostname();
    // Precondition: this machine's name resolves to loopback or a private address.
    expect(isPrivateAddress((await lookup(name)).address)).toBe(true);
    const job = await queuedJob("/by-name", ["job.canceled"]);
    await store().cancel(job, cancelReasons.requested(), Date.now());
    // The URL names a host, so it passed the submission check; production policy refuses where it resolves to.
    await svc.stack.emulators.clients.dynamodb.send(
      new UpdateItemCommand({
        TableName: svc.stack.names.table,
        Key: marshall(jobKey("acme", job.id)),
        UpdateExpression: "SET webhook.#url = :url",
        ExpressionAttributeNames: { "#url": "url" },
        ExpressionAttributeValues: marshall({ ":url": receiver.url("/by-name").replace("127.0.0.1", name) }),
      }),
    );
    const strict = webhooksFunction(svc.config, svc.stack.emulators.clients, { urlPolicy: false }).deliverer;
    const message = { v: 1 as const, tenant: "acme", job_id: job.id, event: "canceled", attempt: 1 };
    expect(await strict.deliver(message)).toBe("retry_scheduled");
    const recorded = (await store().get("acme", job.id, true))?.webhook_events?.canceled;
    expect(recorded?.attempts[0]?.error).toMatch(/^blocked:/);
    expect(receiver.received.filter((r) => r.path === "/by-name")).toHaveLength(0);
  });

  it("chains SQS delays (15 minutes at most) to wait hours between attempts", async () => {
    const job = await queuedJob("/later", ["job.canceled"]);
    await store().cancel(job, cancelReasons.requested(), Date.now());
    receiver.script("/later", { status: 500 });
    const sent: [number, number][] = [];
    // Records what would be queued instead of queueing it, so the test needs no 15-minute wait.
    const recording = createClients(svc.config, { credentials });
    recording.sqs.middlewareStack.add(
      () => async (args) => {
        const input = args.input as { MessageBody: string; DelaySeconds: number };
        sent.push([JSON.parse(input.MessageBody).attempt, input.DelaySeconds]);
        return { output: { $metadata: {} }, response: {} };
      },
      { step: "initialize", name: "recordWebhookSends" },
    );
    const config = { ...svc.config, WEBHOOK_RETRY_SCHEDULE: [7200], WEBHOOK_TIMEOUT_MS: 2_000 };
    const at = (offsetMs: number) =>
      webhooksFunction(config, recording, {
        observability: quietObservability(),
        urlPolicy: loopbackIsPublic,
        now: () => Date.now() + offsetMs,
        random: () => 0.5,
      }).deliverer;
    const message = { v: 1 as const, tenant: "acme", job_id: job.id, event: "canceled", attempt: 1 };
    expect(await at(0).deliver(message)).toBe("retry_scheduled");
    expect(sent.at(-1)).toEqual([2, 900]);
    // Each hop waits again, closer each time, until the attempt is due.
    expect(await at(0).deliver({ ...message, attempt: 2 })).toBe("waiting");
    expect(sent.at(-1)).toEqual([2, 900]);
    expect(await at(7_200_000 - 100_000).deliver({ ...message, attempt: 2 })).toBe("waiting");
    expect(sent.at(-1)?.[1]).toBeGreaterThanOrEqual(99);
    expect(sent.at(-1)?.[1]).toBeLessThanOrEqual(101);
    expect(receiver.received.filter((r) => r.path === "/later")).toHaveLength(1);
    expect(await at(7_200_000 + 1_000).deliver({ ...message, attempt: 2 })).toBe("delivered");
    expect(receiver.received.filter((r) => r.path === "/later")).toHaveLength(2);
  });

  it("loses no event when handing it to the queue fails after the job settled", async () => {
    const job = await queuedJob("/outbox", ["job.succeeded"]);
    const { clients } = svc.stack.emulators;
    const runner = (webhooksQueueUrl: string) =>
      workerFunction({ ...svc.config, WEBHOOKS_QUEUE_URL: webhooksQueueUrl }, clients, {
        observability: quietObservability(),
      }).runner;
    // The webhooks queue is unreachable: the job succeeds, the event stays recorded, the run throws so the
    // job's message comes back.
    const broken = "http://127.0.0.1:9/000000000000/nowhere";
    await expect(runner(broken).run("acme", job.id, 1, () => 60_000)).rejects.toThrow();
    const settled = await store().get("acme", job.id, true);
    expect(settled?.status).toBe("succeeded");
    expect(settled?.webhook_events?.succeeded).toMatchObject({ status: "pending", attempt_count: 0 });
    expect(receiver.received.filter((r) => r.path === "/outbox")).toHaveLength(0);
    // The redelivered message finds the job settled and hands the event on.
    expect(await runner(svc.stack.resources.webhooksQueueUrl).run("acme", job.id, 2, () => 60_000)).toBe(
      "skipped",
    );
    const [sent] = await receiver.waitFor("/outbox", 1);
    expect(JSON.parse(sent?.body ?? "{}").data.status).toBe("succeeded");
  });
});
