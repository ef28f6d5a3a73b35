import { QueryCommand } from "@aws-sdk/client-dynamodb";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import type { SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiRequest } from "../../lib/api/http.ts";
import { Idempotency } from "../../lib/api/idempotency.ts";
import { cancelReasons, jobIdInstant } from "../../lib/jobs/model.ts";
import { JobStore } from "../../lib/jobs/store.ts";
import { createLogger } from "../../lib/logging.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../support/fake-openai.ts";
import { httpClient, type Json } from "../support/http.ts";
import { type ServiceStack, startServiceStack } from "../support/service-stack.ts";

// Cancel, deadlines and Prefer: wait, with the worker calling a fake OpenAI server that can be made slow.

/** Resolves when the worker has handled a message for `jobId`. */
function handled(svc: ServiceStack, jobId: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`The worker never handled ${jobId}`)), 15_000);
    const listener = (event: SQSEvent) => {
      if (!event.Records.some((r) => r.body.includes(jobId))) return;
      clearTimeout(timer);
      svc.batches.off("jobs", listener);
      resolve();
    };
    svc.batches.on("jobs", listener);
  });
}

async function until<T>(probe: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("Condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("cancel, deadlines and Prefer: wait", () => {
  let svc: ServiceStack;
  let fake: FakeOpenAI;
  let api: ReturnType<typeof httpClient>;
  const generations = () => fake.requests.filter((r) => r.path === "/v1/images/generations").length;
  const submit = (extra: Json = {}, headers: Record<string, string> = {}) =>
    api.post(
      "/v1/jobs",
      { operation: "generate", input: { prompt: "an otter", size: "1024x1024" }, ...extra },
      headers,
    );
  const outputs = async (jobId: string) =>
    (
      await svc.stack.emulators.clients.s3.send(
        new ListObjectsV2Command({ Bucket: svc.stack.names.bucket, Prefix: `tenants/acme/jobs/${jobId}/` }),
      )
    ).KeyCount ?? 0;

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    svc = await startServiceStack({
      worker: false,
      env: {
        OPENAI_API_KEY: "sk-test-provider-key-000000",
        OPENAI_BASE_URL: fake.baseURL,
        PROVIDER_MAX_RETRIES: "0",
        SYNC_WAIT_MS: "5000",
        CANCEL_CHECK_MS: "200",
      },
      overrides: { idempotency: { waitMs: 300 } },
    });
    api = httpClient(svc.url, svc.keys.acme);
  });
  afterAll(async () => {
    await svc?.close();
    await fake?.close();
  });

  it("cancels a queued job, which then never runs", async () => {
    const created = await submit();
    expect(created.body.status).toBe("queued");
    const canceled = await api.post(`/v1/jobs/${created.body.id}/cancel`);
    expect(canceled.status).toBe(200);
    expect(canceled.body.status).toBe("canceled");
    expect(canceled.body.error).toMatchObject({ type: "canceled", code: "canceled" });
    // Canceling again is a safe retry.
    expect((await api.post(`/v1/jobs/${created.body.id}/cancel`)).body.status).toBe("canceled");

    const dueAt = Date.now() + 1_000;
    const late = await submit({ deadline: new Date(dueAt).toISOString() });
    expect(late.body.deadline).toBe(new Date(dueAt).toISOString());
    // Nothing takes the job before its deadline; the next read settles it.
    await new Promise((r) => setTimeout(r, dueAt - Date.now() + 50));
    const expired = (await api.get(`/v1/jobs/${late.body.id}`)).body;
    expect([expired.status, expired.error?.code]).toEqual(["canceled", "deadline_exceeded"]);

    const seen = [handled(svc, created.body.id), handled(svc, late.body.id)];
    svc.startWorker();
    await Promise.all(seen);
    expect(generations()).toBe(0);
    expect((await api.get(`/v1/jobs/${created.body.id}`)).body.status).toBe("canceled");
    expect((await api.get(`/v1/jobs/${late.body.id}`)).body.status).toBe("canceled");
  });

  it("cancels a running job at once: the provider call is aborted and nothing is stored", async () => {
    fake.setLatency(5_000);
    try {
      const before = generations();
      const created = await submit();
      await until(() => (generations() > before ? true : undefined));
      expect((await api.get(`/v1/jobs/${created.body.id}`)).body.status).toBe("running");
      const done = handled(svc, created.body.id);
      const started = Date.now();
      const canceled = await api.post(`/v1/jobs/${created.body.id}/cancel`);
      expect(canceled.body.status).toBe("canceled");
      await done;
      // The worker let go long before the provider's 5 s answer.
      expect(Date.now() - started).toBeLessThan(2_000);
      const after = (await api.get(`/v1/jobs/${created.body.id}`)).body;
      expect([after.status, after.output]).toEqual(["canceled", null]);
      expect(await outputs(created.body.id)).toBe(0);
    } finally {
      fake.setLatency(0);
    }
  });

  it("notices a cancel made in another process by checking the job while it runs", async () => {
    fake.setLatency(5_000);
    try {
      const before = generations();
      const created = await submit();
      await until(() => (generations() > before ? true : undefined));
      const done = handled(svc, created.body.id);
      // Straight to DynamoDB, as another Lambda would: no in-process signal reaches the worker.
      const store = new JobStore(svc.stack.emulators.clients.dynamodb, svc.stack.names.table);
      const job = await store.get("acme", created.body.id, true);
      if (!job) throw new Error("job missing");
      const started = Date.now();
      expect(await store.cancel(job, cancelReasons.requested(), Date.now())).toBeDefined();
      await done;
      // CANCEL_CHECK_MS is 200.
      expect(Date.now() - started).toBeLessThan(1_500);
      expect(await outputs(created.body.id)).toBe(0);
    } finally {
      fake.setLatency(0);
    }
  });

  it("cancels a job that runs past its Cancel-After", async () => {
    fake.setLatency(3_000);
    try {
      const started = Date.now();
      const res = await submit({}, { "cancel-after": "1s", prefer: "wait=5" });
      expect(res.status).toBe(201);
      expect([res.body.status, res.body.error?.code]).toEqual(["canceled", "deadline_exceeded"]);
      expect(Date.now() - started).toBeLessThan(2_500);
      expect(await outputs(res.body.id)).toBe(0);
    } finally {
      fake.setLatency(0);
    }
  });

  it("refuses to cancel a finished job with 409, and another tenant's job with 404", async () => {
    const res = await submit({}, { prefer: "wait=5" });
    expect([res.status, res.body.status]).toEqual([201, "succeeded"]);
    const again = await api.post(`/v1/jobs/${res.body.id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("job_already_finished");
    const stranger = await httpClient(svc.url, svc.keys.other).post(`/v1/jobs/${res.body.id}/cancel`);
    expect(stranger.status).toBe(404);
    expect((await api.post("/v1/jobs/job_nope/cancel")).status).toBe(404);
  });

  it("waits with Prefer: wait=N, bounded by the sync wait limit, and says what it applied", async () => {
    const done = await submit({}, { prefer: "wait=100" });
    expect([done.status, done.body.status]).toEqual([201, "succeeded"]);
    // SYNC_WAIT_MS is 5000.
    expect(done.headers.get("preference-applied")).toBe("wait=5");
    expect(done.headers.get("location")).toBe(`/v1/jobs/${done.body.id}`);

    fake.setLatency(2_000);
    try {
      const started = Date.now();
      const pending = await submit({}, { prefer: "respond-async, wait=1" });
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
      expect(pending.status).toBe(202);
      expect(["queued", "running"]).toContain(pending.body.status);
      expect(pending.headers.get("preference-applied")).toBe("wait=1");
    } finally {
      fake.setLatency(0);
    }
    const plain = await submit();
    expect(plain.status).toBe(202);
    expect(plain.headers.get("preference-applied")).toBeNull();
  });

  it.each([
    [{}, { "cancel-after": "soon" }, "Cancel-After"],
    [{}, { "cancel-after": "0" }, "Cancel-After"],
    [{ deadline: "2001-01-01T00:00:00Z" }, {}, "deadline"],
    [{ deadline: "tomorrow" }, {}, "deadline"],
    [{ webhook: { url: "https://example.com/h", events: ["job.exploded"] } }, {}, "webhook.events[0]"],
  ])("refuses bad lifecycle options %j %j with a 400 naming %s", async (body, headers, param) => {
    const res = await submit(body, headers);
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe(param);
  });

  it("answers a duplicate with 409 while the first request is still running, then replays it", async () => {
    fake.setLatency(1_500);
    try {
      const key = "sync-in-flight-1";
      const before = generations();
      const first = api.post("/v1/images/generations", { prompt: "a slow fox" }, { "idempotency-key": key });
      await until(() => (generations() > before ? true : undefined));
      const duplicate = await api.post(
        "/v1/images/generations",
        { prompt: "a slow fox" },
        { "idempotency-key": key },
      );
      expect(duplicate.status).toBe(409);
      expect(duplicate.body.error.code).toBe("idempotency_key_in_use");
      const original = await first;
      expect(original.status).toBe(200);
      const replay = await api.post(
        "/v1/images/generations",
        { prompt: "a slow fox" },
        { "idempotency-key": key },
      );
      expect(replay.status).toBe(200);
      expect(replay.headers.get("idempotent-replayed")).toBe("true");
      expect(replay.headers.get("x-job-id")).toBe(original.headers.get("x-job-id"));
      expect(replay.body).toEqual(original.body);
      expect(generations() - before).toBe(1);
    } finally {
      fake.setLatency(0);
    }
  });
});

describe("listing", () => {
  let svc: ServiceStack;
  let api: ReturnType<typeof httpClient>;
  const ids: string[] = [];
  const created: number[] = [];

  beforeAll(async () => {
    svc = await startServiceStack({ worker: false, tenants: ["lister", "other"] });
    api = httpClient(svc.url, svc.keys.lister);
    for (let i = 0; i < 5; i++) {
      const res = await api.post("/v1/jobs", { operation: "generate", input: { prompt: `job ${i}` } });
      ids.push(res.body.id);
      created.push(Date.parse(res.body.created_at));
      // Distinct creation times, so time ranges split them cleanly.
      await new Promise((r) => setTimeout(r, 3));
    }
    for (const id of [ids[1], ids[3]]) await api.post(`/v1/jobs/${id}/cancel`);
    await httpClient(svc.url, svc.keys.other).post("/v1/jobs", {
      operation: "generate",
      input: { prompt: "theirs" },
    });
  });
  afterAll(async () => {
    await svc?.close();
  });

  async function all(query: string, pageSize: number) {
    const pages: Json[] = [];
    let cursor: string | null = null;
    do {
      const res = await api.get(`/v1/jobs?${query}&limit=${pageSize}${cursor ? `&after=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      pages.push(res.body);
      cursor = res.body.next_cursor;
    } while (cursor && pages.length < 10);
    return { pages, ids: pages.flatMap((p) => p.data.map((j: Json) => j.id)) };
  }

  it("lists the tenant's jobs newest first across pages", async () => {
    const { pages, ids: listed } = await all("", 2);
    expect(pages.map((p) => p.data.length)).toEqual([2, 2, 1]);
    expect(pages.map((p) => p.has_more)).toEqual([true, true, false]);
    expect(listed).toEqual([...ids].reverse());
    expect(pages[0].object).toBe("list");
  });

  it("filters by status through the index, and by operation", async () => {
    expect((await all("status=canceled", 10)).ids).toEqual([ids[3], ids[1]]);
    const queued = await all("status=queued", 2);
    expect(queued.pages.map((p) => p.data.length)).toEqual([2, 1]);
    expect(queued.ids).toEqual([ids[4], ids[2], ids[0]]);
    expect((await all("status=succeeded", 10)).ids).toEqual([]);
    expect((await all("operation=generate", 2)).ids).toEqual([...ids].reverse());
  });

  it("filters by creation time: created_after inclusive, created_before exclusive", async () => {
    // created_at is the instant in the ID, which the index filters on.
    expect(created).toEqual(ids.map(jobIdInstant));
    const at = new Date(created[2] as number).toISOString();
    expect((await all(`created_after=${at}`, 2)).ids).toEqual([ids[4], ids[3], ids[2]]);
    expect((await all(`created_before=${at}`, 2)).ids).toEqual([ids[1], ids[0]]);
    const seconds = Math.floor((created[0] as number) / 1000) + 3600;
    expect((await all(`created_after=${seconds}`, 2)).ids).toEqual([]);
  });

  it("refuses a tampered cursor, or one made for other filters, with a 400 naming after", async () => {
    const first = await api.get("/v1/jobs?limit=2&status=queued");
    const cursor = first.body.next_cursor as string;
    const decoded = JSON.parse(Buffer.from(cursor, "base64url").toString());
    const forged = Buffer.from(JSON.stringify({ ...decoded, id: "job_../../etc" })).toString("base64url");
    for (const bad of [`${cursor.slice(0, -3)}xyz`, "not-a-cursor", forged]) {
      const res = await api.get(`/v1/jobs?limit=2&status=queued&after=${bad}`);
      expect(res.status).toBe(400);
      expect(res.body.error.param).toBe("after");
    }
    const otherFilters = await api.get(`/v1/jobs?limit=2&status=canceled&after=${cursor}`);
    expect(otherFilters.status).toBe(400);
    expect(otherFilters.body.error.param).toBe("after");
  });

  it("keeps every tenant to its own jobs, cursor or not", async () => {
    const first = await api.get("/v1/jobs?limit=2");
    const theirs = httpClient(svc.url, svc.keys.other);
    const own = (await theirs.get("/v1/jobs")).body.data.map((j: Json) => j.id);
    expect(own).toHaveLength(1);
    expect(ids).not.toContain(own[0]);
    const borrowed = await theirs.get(`/v1/jobs?limit=2&after=${first.body.next_cursor}`);
    for (const j of borrowed.body.data ?? []) expect(ids).not.toContain(j.id);
  });

  it.each([
    "limit=0",
    "limit=101",
    "status=lost",
    "created_after=yesterday",
    "color=red",
    // An inverted range: DynamoDB would refuse its BETWEEN.
    "created_after=100&created_before=50",
    "created_after=2026-03-02T00:00:00Z&created_before=2026-03-01T00:00:00Z",
  ])("refuses %s with a 400", async (query) => {
    const res = await api.get(`/v1/jobs?${query}`);
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe(query.split("=")[0]);
  });
});

describe("Idempotency-Key", () => {
  let svc: ServiceStack;
  let api: ReturnType<typeof httpClient>;
  const body = { operation: "generate", input: { prompt: "once only" } };

  beforeAll(async () => {
    svc = await startServiceStack({ tenants: ["idem", "other"] });
    api = httpClient(svc.url, svc.keys.idem);
  });
  afterAll(async () => {
    await svc?.close();
  });

  const count = async () => (await api.get("/v1/jobs?limit=100")).body.data.length;

  it("answers concurrent duplicates with one job and the same response", async () => {
    const before = await count();
    const [a, b] = await Promise.all([
      api.post("/v1/jobs", body, { "idempotency-key": "concurrent-1" }),
      api.post("/v1/jobs", body, { "idempotency-key": "concurrent-1" }),
    ]);
    expect([a?.status, b?.status]).toEqual([202, 202]);
    expect(a?.body).toEqual(b?.body);
    const replayed = [a, b].filter((r) => r?.headers.get("idempotent-replayed") === "true");
    expect(replayed).toHaveLength(1);
    expect(await count()).toBe(before + 1);
  });

  it("refuses the same key with a different request (422), and scopes keys per tenant", async () => {
    const first = await api.post("/v1/jobs", body, { "idempotency-key": "reuse-1" });
    const changed = await api.post(
      "/v1/jobs",
      { ...body, input: { prompt: "something else" } },
      { "idempotency-key": "reuse-1" },
    );
    expect(changed.status).toBe(422);
    expect(changed.body.error).toMatchObject({ param: "Idempotency-Key", code: "idempotency_key_reused" });
    const deadlineToo = await api.post("/v1/jobs", body, {
      "idempotency-key": "reuse-1",
      "cancel-after": "5m",
    });
    expect(deadlineToo.status).toBe(422);
    const elsewhere = await httpClient(svc.url, svc.keys.other).post("/v1/jobs", body, {
      "idempotency-key": "reuse-1",
    });
    expect(elsewhere.status).toBe(202);
    expect(elsewhere.body.id).not.toBe(first.body.id);
    expect(elsewhere.headers.get("idempotent-replayed")).toBeNull();
  });

  it("replays a 4xx, and releases the key after a 5xx so a retry can succeed", async () => {
    const bad = { operation: "generate", input: { prompt: "x", n: 11 } };
    const first = await api.post("/v1/jobs", bad, { "idempotency-key": "bad-1" });
    const again = await api.post("/v1/jobs", bad, { "idempotency-key": "bad-1" });
    expect([first.status, again.status]).toEqual([400, 400]);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get("idempotent-replayed")).toBe("true");

    const broken = httpClient(
      await svc.serveApi({ JOBS_QUEUE_URL: "http://127.0.0.1:9/000000000000/missing" }),
      svc.keys.idem,
    );
    const failed = await broken.post("/v1/jobs", body, { "idempotency-key": "fault-1" });
    expect(failed.status).toBe(503);
    const retried = await api.post("/v1/jobs", body, { "idempotency-key": "fault-1" });
    expect(retried.status).toBe(202);
    expect(retried.headers.get("idempotent-replayed")).toBeNull();
  });

  it("covers the synchronous images route too, large b64 responses included", async () => {
    const request = { prompt: "a big one", n: 4, size: "1536x1024", response_format: "b64_json" };
    const first = await api.post("/v1/images/generations", request, { "idempotency-key": "sync-1" });
    expect(first.status).toBe(200);
    // Beyond what a DynamoDB item holds: the stored response lives in S3.
    expect(first.text.length).toBeGreaterThan(400 * 1024);
    const spilled = await svc.stack.emulators.clients.s3.send(
      new ListObjectsV2Command({ Bucket: svc.stack.names.bucket, Prefix: "tenants/idem/idempotency/" }),
    );
    expect(spilled.KeyCount).toBe(1);
    const replay = await api.post("/v1/images/generations", request, { "idempotency-key": "sync-1" });
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.headers.get("x-job-id")).toBe(first.headers.get("x-job-id"));
    expect(replay.body).toEqual(first.body);
  });

  it("remembers a key for 24 hours (the record carries a DynamoDB TTL), then forgets it", async () => {
    let now = Date.now();
    const { clients } = svc.stack.emulators;
    const idempotency = new Idempotency(
      { db: clients.dynamodb, s3: clients.s3 },
      { table: svc.stack.names.table, bucket: svc.stack.names.bucket },
      createLogger({ level: "silent", format: "json", service: "test" }),
      {},
      () => now,
    );
    const req: ApiRequest = {
      method: "POST",
      path: "/v1/jobs",
      query: new URLSearchParams(),
      headers: { "idempotency-key": "ttl-1", "content-type": "application/json" },
      body: Buffer.from("{}"),
      requestId: "r",
    };
    let runs = 0;
    const handle = async () => ({ status: 202, body: { run: ++runs } });
    expect((await idempotency.run("idem", req, handle)).body).toEqual({ run: 1 });
    now += 24 * 3600 * 1000 - 1000;
    expect((await idempotency.run("idem", req, handle)).body).toEqual({ run: 1 });
    const item = await clients.dynamodb.send(
      new QueryCommand({
        TableName: svc.stack.names.table,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :sk)",
        ExpressionAttributeValues: marshall({ ":pk": "T#idem", ":sk": "IDEMPOTENCY#" }),
      }),
    );
    const ttls = (item.Items ?? []).map((i) => Number(unmarshall(i).ttl) - Math.floor(Date.now() / 1000));
    for (const ttl of ttls) expect(Math.abs(ttl - 24 * 3600)).toBeLessThan(120);
    now += 2000;
    expect((await idempotency.run("idem", req, handle)).body).toEqual({ run: 2 });
  });

  it("refuses a malformed key", async () => {
    const res = await api.post("/v1/jobs", body, { "idempotency-key": "x".repeat(256) });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe("Idempotency-Key");
  });
});
