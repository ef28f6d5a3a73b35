import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { Principal } from "../../lib/auth/keys.ts";
import type { Job } from "../../lib/jobs/model.ts";
import { JobStore } from "../../lib/jobs/store.ts";
import { Limits } from "../../lib/limits/limits.ts";
import { createLogger } from "../../lib/logging.ts";
import { createClients } from "../../lib/runtime.ts";
import { UsageLedger } from "../../lib/usage/ledger.ts";
import { checkedApi } from "../support/contract.ts";
import { credentials, startTestStack, type TestStack } from "../support/emulators.ts";
import { type FakeOpenAI, openaiError, startFakeOpenAI } from "../support/fake-openai.ts";
import { apiFunction, quietObservability, workerFunction } from "../support/functions.ts";
import type { Json } from "../support/http.ts";
import { apiEvent, receiveEvent } from "../support/lambda.ts";

// Tenants and keys through the API Lambda: the admin API, isolation, per-key limits and usage,
// against real emulators, with the worker Lambda running jobs through the openai SDK and a fake server.

const context = { getRemainingTimeInMillis: () => 60_000 } as Context;
const adminKey = "sk-admin-test-0123456789abcdefghijklmnop";

let stack: TestStack;
let fake: FakeOpenAI;
let config: ReturnType<TestStack["config"]>;
let clients: ReturnType<typeof createClients>;
let api: ReturnType<typeof apiFunction>["handler"];
let worker: ReturnType<typeof workerFunction>;
let store: JobStore;

async function callVia(
  handler: typeof api,
  method: string,
  path: string,
  key: string | undefined,
  body?: unknown,
  query = "",
) {
  const res = (await handler(
    apiEvent(method, path, {
      body,
      query,
      headers: key === undefined ? {} : { authorization: `Bearer ${key}` },
    }),
    context,
  )) as APIGatewayProxyStructuredResultV2;
  return {
    status: res.statusCode,
    headers: res.headers ?? {},
    text: res.body ?? "",
    body: JSON.parse(res.body || "null") as Json,
  };
}

const call = (method: string, path: string, key: string | undefined, body?: unknown, query = "") =>
  callVia(api, method, path, key, body, query);

const admin = (method: string, path: string, body?: unknown, query = "") =>
  call(method, path, adminKey, body, query);

async function newKey(tenant: string, limits: Record<string, number> = {}, name = "test") {
  const res = await admin("POST", "/admin/keys", { tenant, name, limits });
  expect(res.status).toBe(201);
  return { key: res.body.key as string, id: res.body.id as string };
}

const submit = (key: string, input: Record<string, unknown> = { prompt: "x" }) =>
  call("POST", "/v1/jobs", key, { operation: "generate", input });

/** Runs whatever is queued now, as the worker Lambda would. */
async function drain() {
  for (;;) {
    const event = await receiveEvent(stack.emulators.clients.sqs, stack.resources.jobsQueueUrl, 10, 0);
    if (event.Records.length === 0) return;
    await worker.invoke(event);
  }
}

async function tableItems(): Promise<Record<string, unknown>[]> {
  const res = await stack.emulators.clients.dynamodb.send(new ScanCommand({ TableName: stack.names.table }));
  return (res.Items ?? []).map((i) => unmarshall(i));
}

/** The concurrency slots a key's jobs hold: job id → when taken. */
async function slotsOf(keyId: string): Promise<Json> {
  return (await tableItems()).find((i) => i.pk === `KEY#${keyId}` && i.sk === "ACTIVE")?.slots;
}

beforeAll(async () => {
  stack = await startTestStack();
  fake = await startFakeOpenAI();
  config = stack.config({
    OPENAI_API_KEY: "sk-test-provider-key-abcdefghijklmnop",
    OPENAI_BASE_URL: fake.baseURL,
    PROVIDER_MAX_RETRIES: "0",
    SYNC_WAIT_MS: "0",
    ADMIN_API_KEY: adminKey,
  });
  clients = createClients(config, { credentials });
  api = checkedApi(apiFunction(config, clients).handler);
  worker = workerFunction(config, clients);
  store = new JobStore(clients.dynamodb, stack.names.table);
});
afterAll(async () => {
  await fake?.close();
  await stack?.emulators.stop();
});
beforeEach(drain);

describe("admin API", () => {
  it("issues a key once, lists it without its secret, and a revocation takes effect on the next request", async () => {
    const created = await admin("POST", "/admin/keys", {
      tenant: "acme",
      name: "web app",
      limits: { requests_per_minute: 100 },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      object: "api_key",
      id: expect.stringMatching(/^key_[0-9a-f]{16}$/),
      tenant: "acme",
      name: "web app",
      limits: { requests_per_minute: 100 },
      revoked_at: null,
      key: expect.stringMatching(/^sk-img-[A-Za-z0-9_-]{32}$/),
    });
    const { key, id } = created.body;
    expect((await call("GET", "/v1/models", key)).status).toBe(200);

    const listed = await admin("GET", "/admin/keys", undefined, "tenant=acme");
    expect(listed.status).toBe(200);
    expect(listed.body.data.find((k: Json) => k.id === id)).toEqual({
      object: "api_key",
      id,
      tenant: "acme",
      name: "web app",
      created_at: created.body.created_at,
      limits: { requests_per_minute: 100 },
      revoked_at: null,
    });
    expect(listed.text).not.toContain(key);

    // Stored as a hash only: the secret is nowhere in the table.
    const items = JSON.stringify(await tableItems());
    expect(items).not.toContain(key);
    expect(items).not.toContain(key.slice(7, 27));

    const revoked = await admin("DELETE", `/admin/keys/${id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    const refused = await call("GET", "/v1/models", key);
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe("invalid_api_key");

    // Idempotent: a second revocation keeps the first time, and the listing shows it.
    expect((await admin("DELETE", `/admin/keys/${id}`)).body.revoked_at).toBe(revoked.body.revoked_at);
    const after = await admin("GET", "/admin/keys", undefined, "tenant=acme");
    expect(after.body.data.find((k: Json) => k.id === id).revoked_at).toBe(revoked.body.revoked_at);
    expect((await admin("DELETE", "/admin/keys/key_0000000000000000")).status).toBe(404);
  });

  it("lists only the named tenant's keys", async () => {
    const a = await newKey("list-a", {}, "first");
    const b = await newKey("list-b");
    const a2 = await newKey("list-a", {}, "second");
    const res = await admin("GET", "/admin/keys", undefined, "tenant=list-a");
    expect(res.body.data.map((k: Json) => k.id).sort()).toEqual([a.id, a2.id].sort());
    expect(res.text).not.toContain(b.id);
    expect((await admin("GET", "/admin/keys", undefined, "tenant=nobody")).body.data).toEqual([]);
  });

  it("takes the admin key on /admin only, and tenant keys everywhere but /admin", async () => {
    const { key } = await newKey("acme");
    const cases: [string, string, string | undefined, number, string][] = [
      ["GET", "/v1/models", adminKey, 403, "permission_denied"],
      ["POST", "/v1/jobs", adminKey, 403, "permission_denied"],
      ["GET", "/admin/keys", key, 403, "permission_denied"],
      ["DELETE", "/admin/keys/key_0000000000000000", key, 403, "permission_denied"],
      ["GET", "/admin/usage", undefined, 401, "invalid_api_key"],
      ["GET", "/admin/keys", `${adminKey}x`, 401, "invalid_api_key"],
      ["POST", "/admin/keys", "sk-img-not-a-key-00000000000000", 401, "invalid_api_key"],
    ];
    for (const [method, path, credential, status, code] of cases) {
      const res = await call(method, path, credential, undefined, "tenant=acme");
      expect({ method, path, status: res.status, error: res.body.error }).toEqual({
        method,
        path,
        status,
        error: { message: expect.any(String), type: "invalid_request_error", param: null, code },
      });
    }
  });

  it("refuses every admin request when ADMIN_API_KEY is not set", async () => {
    const closed = checkedApi(
      apiFunction(stack.config(), createClients(stack.config(), { credentials })).handler,
    );
    const res = (await closed(
      apiEvent("GET", "/admin/keys", {
        query: "tenant=acme",
        headers: { authorization: `Bearer ${adminKey}` },
      }),
      context,
    )) as APIGatewayProxyStructuredResultV2;
    expect(res.statusCode).toBe(401);
    expect(JSON.parse(res.body ?? "").error.message).toMatch(/ADMIN_API_KEY is not set/);
  });

  it("validates what it is given, naming the parameter, and writes nothing", async () => {
    const before = (await tableItems()).length;
    const cases: [unknown, string, string | null, RegExp][] = [
      [{ tenant: "Acme Corp", name: "x" }, "", "tenant", /must be 1-64 of a-z/],
      [{ tenant: "acme" }, "", "name", /is required/],
      [{ tenant: "acme", name: "x", limits: { rpm: 5 } }, "", "limits.rpm", /Unknown parameter/],
      [
        { tenant: "acme", name: "x", limits: { concurrent_jobs: 0 } },
        "",
        "limits.concurrent_jobs",
        /at least 1/,
      ],
      [
        { tenant: "acme", name: "x", limits: { images_per_day: 1.5 } },
        "",
        "limits.images_per_day",
        /integer/,
      ],
    ];
    for (const [body, query, param, message] of cases) {
      const res = await admin("POST", "/admin/keys", body, query);
      expect({ status: res.status, param: res.body.error.param }).toEqual({ status: 400, param });
      expect(res.body.error.message).toMatch(message);
    }
    expect((await tableItems()).length).toBe(before);
    const queries: [string, string, RegExp][] = [
      ["", "tenant", /required/],
      ["tenant=acme&from=2026-02-30", "from", /not a calendar date/],
      ["tenant=acme&to=yesterday", "to", /YYYY-MM-DD/],
      ["tenant=acme&from=2026-03-02&to=2026-03-01", "from", /after/],
      ["tenant=acme&from=2024-01-01&to=2026-01-01", "from", /more than 366 days/],
      ["tenant=acme&since=2026-01-01", "since", /Unknown parameter/],
    ];
    for (const [query, param, message] of queries) {
      const res = await admin("GET", "/admin/usage", undefined, query);
      expect({ query, status: res.status, param: res.body.error.param }).toEqual({
        query,
        status: 400,
        param,
      });
      expect(res.body.error.message).toMatch(message);
    }
  });
});

describe("isolation between tenants", () => {
  it("another tenant's job is a 404 indistinguishable from a job that never existed", async () => {
    const a = await newKey("iso-a");
    const b = await newKey("iso-b");
    const submitted = await submit(a.key, { prompt: "private to a" });
    expect(submitted.status).toBe(202);
    await drain();
    const own = await call("GET", `/v1/jobs/${submitted.body.id}`, a.key);
    expect(own.body.status).toBe("succeeded");
    expect(own.body.output.images[0].url).toContain(`/tenants/iso-a/jobs/${submitted.body.id}/`);

    const foreign = await call("GET", `/v1/jobs/${submitted.body.id}`, b.key);
    const missing = await call("GET", "/v1/jobs/job_01m80000000000000000000000", b.key);
    expect(foreign.status).toBe(404);
    expect(foreign.body.error).toEqual({
      ...missing.body.error,
      message: missing.body.error.message.replace("job_01m80000000000000000000000", submitted.body.id),
    });
    // Nothing of the job, least of all its image URLs, reaches the other tenant.
    expect(foreign.text).not.toContain("X-Amz");
    expect(foreign.text).not.toContain("private to a");
  });
});

describe("per-key limits", () => {
  it("limits requests per minute with a 429, Retry-After and OpenAI's envelope; other keys are unaffected", async () => {
    const limited = await newKey("rate", { requests_per_minute: 3 });
    const other = await newKey("rate", { requests_per_minute: 3 });
    // A fixed window: the clock stands 10 s into a minute, so all six requests count in one window and the
    // wait until the next is known. Only Date is faked; the SDK's timers and sockets run as usual.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Math.floor(Date.now() / 60_000 + 1) * 60_000 + 10_000);
    const atFixedTime = checkedApi(apiFunction(config, clients).handler);
    const statuses = await Promise.all(
      Array.from({ length: 6 }, () => callVia(atFixedTime, "GET", "/v1/models", limited.key)),
    ).finally(() => vi.useRealTimers());
    expect(statuses.map((r) => r.status).sort()).toEqual([200, 200, 200, 429, 429, 429]);
    const refused = statuses.find((r) => r.status === 429);
    expect(refused?.body.error).toEqual({
      message: expect.stringMatching(/3 requests per minute/),
      type: "rate_limit_error",
      param: null,
      code: "rate_limit_exceeded",
    });
    expect(refused?.body.error.message).toMatch(/try again in 50 s/);
    expect(refused?.headers["retry-after"]).toBe("50");
    expect((await call("GET", "/v1/models", other.key)).status).toBe(200);
  });

  it("counts concurrent jobs atomically, and frees a slot when a job ends", async () => {
    const { key, id } = await newKey("conc", { concurrent_jobs: 2 });
    const burst = await Promise.all(Array.from({ length: 6 }, () => submit(key)));
    expect(burst.map((r) => r.status).sort()).toEqual([202, 202, 429, 429, 429, 429]);
    const refused = burst.find((r) => r.status === 429);
    expect(refused?.body.error).toMatchObject({ code: "concurrency_limit_exceeded", param: null });
    expect(refused?.headers["retry-after"]).toBe("5");

    await drain();
    // Released by the worker as each job ended, not reclaimed later.
    expect(await slotsOf(id)).toEqual({});
    const next = await Promise.all([submit(key), submit(key), submit(key)]);
    expect(next.map((r) => r.status).sort()).toEqual([202, 202, 429]);
    await drain();
  });

  it("counts images per day against n, gives back a failed job's images, and is not retried by the SDK", async () => {
    const { key } = await newKey("daily", { images_per_day: 5 });
    expect((await submit(key, { prompt: "three", n: 3 })).status).toBe(202);
    await drain();
    const over = await submit(key, { prompt: "three more", n: 3 });
    expect(over.status).toBe(429);
    expect(over.body.error).toMatchObject({ code: "daily_image_limit_exceeded", type: "rate_limit_error" });
    expect(over.headers["x-should-retry"]).toBe("false");
    const untilMidnight = 86_400 - Math.floor((Date.now() % 86_400_000) / 1000);
    expect(Math.abs(Number(over.headers["retry-after"]) - untilMidnight)).toBeLessThanOrEqual(2);

    // Two of the remaining two are fine; then the job fails at the provider and its images come back.
    const two = await submit(key, { prompt: "refused", n: 2 });
    expect(two.status).toBe(202);
    expect((await submit(key, { prompt: "one", n: 1 })).status).toBe(429);
    fake.script(
      openaiError(400, "Your request was rejected by the safety system.", "content_policy_violation"),
    );
    await drain();
    expect((await store.get("daily", two.body.id, true))?.status).toBe("failed");
    expect((await submit(key, { prompt: "two again", n: 2 })).status).toBe(202);
    await drain();
  });

  it("never lets parallel submits overshoot the daily allowance", async () => {
    const { key } = await newKey("daily-burst", { images_per_day: 4 });
    const burst = await Promise.all(Array.from({ length: 10 }, () => submit(key, { prompt: "one" })));
    expect(burst.filter((r) => r.status === 202)).toHaveLength(4);
    await drain();
  });
});

describe("concurrency slots survive crashes", () => {
  const logger = createLogger({ level: "silent", format: "json", service: "test" });
  const limitsAt = (now: () => number) =>
    new Limits(
      stack.emulators.clients.dynamodb,
      stack.names.table,
      (t, id) => store.get(t, id, true),
      logger,
      {
        reclaimGraceMs: 60_000,
        now,
      },
    );
  const principal = (keyId: string, concurrent_jobs: number): Principal => ({
    tenant: "crash",
    keyId,
    limits: { concurrent_jobs },
  });
  const jobFor = (id: string, hold: Job["hold"], now: number): Job => ({
    id,
    tenant: "crash",
    operation: "generate",
    status: "queued",
    model: "gpt-image-2",
    provider: "openai",
    input: {
      prompt: "x",
      model: "gpt-image-2",
      n: 1,
      size: "auto",
      output_format: "png",
      response_format: "url",
    },
    created_at: now,
    updated_at: now,
    attempts: 0,
    ...(hold && { hold }),
  });

  it("reclaims the slot of a job that ended without releasing it, or was never recorded, but not a live one", async () => {
    const t0 = Date.now();
    let now = t0;
    const limits = limitsAt(() => now);
    const p = principal("key_crash000000000001", 2);
    const record = async (id: string) => {
      const hold = await limits.reserveJob(p, id, 1);
      expect(hold).toEqual({ key_id: p.keyId, slot: true, images: 1 });
      await store.create(jobFor(id, hold, now));
    };
    const refused = { name: "LimitExceeded", code: "concurrency_limit_exceeded" };
    // Job 1 fails without its slot being released: its worker died between the two writes.
    await record("job_crash1");
    const crashed = await store.get("crash", "job_crash1", true);
    if (!crashed) throw new Error("job missing");
    expect(await store.fail(crashed, { type: "t", code: "c", message: "m" }, now)).toBeDefined();
    // Job 2's API process died between taking its slot and recording the job.
    await limits.reserveJob(p, "job_crash2", 1);

    // The key is full; job 1's slot comes back, job 2's stays: a missing job this young may be being recorded.
    await record("job_crash3");
    now = t0 + 10_000;
    await expect(limits.reserveJob(p, "job_crash4", 1)).rejects.toMatchObject(refused);
    // Past the grace period, job 2's slot comes back too; job 3 is live and keeps its slot.
    now = t0 + 61_000;
    await record("job_crash4");
    now = t0 + 200_000;
    await expect(limits.reserveJob(p, "job_crash5", 1)).rejects.toMatchObject(refused);
    // A slot older than any job can legitimately wait is freed whatever its job says.
    now = t0 + 25 * 3_600_000;
    await record("job_crash5");
  });

  it("a redelivered message for a settled job releases the slot its first worker left behind", async () => {
    const { key, id: keyId } = await newKey("redeliver", { concurrent_jobs: 1 });
    const submitted = await submit(key, { prompt: "once" });
    const event = await receiveEvent(stack.emulators.clients.sqs, stack.resources.jobsQueueUrl);
    const job = await store.get("redeliver", submitted.body.id, true);
    if (!job) throw new Error("job missing");
    const slots = () => slotsOf(keyId);
    expect(Object.keys(await slots())).toEqual([job.id]);
    // The first worker succeeded the job and died before releasing its slot.
    await store.claim(job, Date.now(), 60_000);
    await store.succeed(
      job,
      { images: [], usage: { images: 0, provider_calls: 0, provider_ms: 0 }, provider: "openai" },
      Date.now(),
    );
    expect(Object.keys(await slots())).toEqual([job.id]);
    expect(await worker.invoke(event)).toEqual({ batchItemFailures: [] });
    expect(await slots()).toEqual({});
  });
  it("a waiter answered before the worker frees the slot frees it itself, and gives back no images", async () => {
    const { key, id: keyId } = await newKey("answered", { concurrent_jobs: 1, images_per_day: 3 });
    const submitted = await submit(key, { prompt: "once" });
    const job = await store.get("answered", submitted.body.id, true);
    if (!job) throw new Error("job missing");
    await receiveEvent(stack.emulators.clients.sqs, stack.resources.jobsQueueUrl); // no worker runs it
    // A worker in another process succeeded the job; its slot release has not landed yet (or never will).
    await store.claim(job, Date.now(), 60_000);
    const made = { index: 0, key: "k", width: 1, height: 1, format: "png" as const, bytes: 1, sha256: "0" };
    await store.succeed(
      job,
      { images: [made], usage: { images: 1, provider_calls: 1, provider_ms: 1 }, provider: "openai" },
      Date.now(),
    );
    expect(Object.keys(await slotsOf(keyId))).toEqual([job.id]);
    const config = stack.config({ OPENAI_API_KEY: "sk-test-provider-key-abcdefghijklmnop" });
    const { jobs } = apiFunction(config, stack.emulators.clients, { observability: quietObservability() });
    expect((await jobs.waitForTerminal("answered", job.id, 1_000))?.status).toBe("succeeded");
    // Free before the answer, so the caller's next job is admitted at once.
    expect(await slotsOf(keyId)).toEqual({});
    expect((await submit(key, { prompt: "next" })).status).toBe(202);
    // The day's images are the worker's to settle (it ended the job): 1 held by the first, 1 by the next.
    const day = (await tableItems()).find((i) => i.pk === `KEY#${keyId}` && String(i.sk).startsWith("DAY#"));
    expect(day?.images).toBe(2);
  });
});

describe("usage", () => {
  it("reports images and jobs per day, model and operation, counting a redelivered success once", async () => {
    const { key } = await newKey("usage-a");
    const other = await newKey("usage-b");
    await submit(key, { prompt: "two", n: 2 });
    await submit(key, { prompt: "one", n: 1, model: "placeholder", size: "256x256" });
    await submit(other.key, { prompt: "theirs", n: 4 });
    const event = await receiveEvent(stack.emulators.clients.sqs, stack.resources.jobsQueueUrl);
    expect(event.Records).toHaveLength(3);
    await worker.invoke(event);
    await worker.invoke(event); // redelivered: no second count

    // A row from another day, outside the range asked for.
    const ledger = new UsageLedger(stack.emulators.clients.dynamodb, stack.names.table);
    const [anyJob] = (await tableItems()).filter((i) => i.tenant === "usage-a" && i.status === "succeeded");
    await ledger.recordSuccess(
      { ...(anyJob as Job), model: "gpt-image-2" },
      Date.parse("2026-01-15T12:00:00Z"),
    );

    const today = new Date().toISOString().slice(0, 10);
    const res = await admin("GET", "/admin/usage", undefined, `tenant=usage-a&from=${today}&to=${today}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      object: "usage",
      tenant: "usage-a",
      from: today,
      to: today,
      data: [
        // The fake provider reports 10 input tokens per call and 100 output tokens per image, which
        // gpt-image-2's token prices turn into dollars ($8 and $30 per million); the placeholder is free.
        {
          date: today,
          operation: "generate",
          model: "gpt-image-2",
          jobs: 1,
          images: 2,
          input_tokens: 10,
          output_tokens: 200,
          cost_usd: 0.00608,
        },
        { date: today, operation: "generate", model: "placeholder", jobs: 1, images: 1, cost_usd: 0 },
      ],
      by_model: [
        { model: "gpt-image-2", jobs: 1, images: 2, cost_usd: 0.00608 },
        { model: "placeholder", jobs: 1, images: 1, cost_usd: 0 },
      ],
      total: { jobs: 2, images: 3, cost_usd: 0.00608 },
    });
    const january = await admin(
      "GET",
      "/admin/usage",
      undefined,
      "tenant=usage-a&from=2026-01-01&to=2026-01-31",
    );
    expect(january.body.data).toEqual([
      expect.objectContaining({ date: "2026-01-15", operation: "generate", model: "gpt-image-2", jobs: 1 }),
    ]);
    const theirs = await admin("GET", "/admin/usage", undefined, `tenant=usage-b&from=${today}`);
    expect(theirs.body.total).toEqual({ jobs: 1, images: 4, cost_usd: 0.01208 });
  });
});
