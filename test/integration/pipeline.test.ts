import { PutItemCommand } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { marshall } from "@aws-sdk/util-dynamodb";
import type { APIGatewayProxyStructuredResultV2, Context, SQSEvent } from "aws-lambda";
import sharp from "sharp";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { KeyStore } from "../../lib/auth/keys.ts";
import { JobStore } from "../../lib/jobs/store.ts";
import { createClients } from "../../lib/runtime.ts";
import { checkedApi } from "../support/contract.ts";
import { credentials, startTestStack, type TestStack } from "../support/emulators.ts";
import { type FakeOpenAI, openaiError, startFakeOpenAI } from "../support/fake-openai.ts";
import { apiFunction, workerFunction } from "../support/functions.ts";
import type { Json } from "../support/http.ts";
import { apiEvent, receiveEvent } from "../support/lambda.ts";

// The API Lambda and the worker Lambda against real emulators, with the real openai SDK talking to a fake server.

const context = { getRemainingTimeInMillis: () => 60_000 } as Context;
const keyA = "sk-img-tenant-a-key-000000000000";
const keyB = "sk-img-tenant-b-key-000000000000";

let stack: TestStack;
let fake: FakeOpenAI;
let api: ReturnType<typeof apiFunction>["handler"];
let worker: ReturnType<typeof workerFunction>;
let store: JobStore;

async function call(method: string, path: string, body?: unknown, key = keyA) {
  const res = (await api(
    apiEvent(method, path, { body, headers: { authorization: `Bearer ${key}` } }),
    context,
  )) as APIGatewayProxyStructuredResultV2;
  return { status: res.statusCode, headers: res.headers ?? {}, body: JSON.parse(res.body ?? "null") as Json };
}

async function submit(input: Record<string, unknown>) {
  const res = await call("POST", "/v1/jobs", { operation: "generate", input });
  expect(res.status).toBe(202);
  return res.body.id as string;
}

const work = (event: SQSEvent) => worker.invoke(event);
const job = (id: string, tenant = "a") => store.get(tenant, id, true);
const current = async (id: string) => {
  const found = await job(id);
  if (!found) throw new Error(`no job ${id}`);
  return found;
};

beforeAll(async () => {
  stack = await startTestStack({ maxAttempts: 3 });
  fake = await startFakeOpenAI();
  const config = stack.config({
    OPENAI_API_KEY: "sk-test-provider-key-abcdefghijklmnop",
    OPENAI_BASE_URL: fake.baseURL,
    PROVIDER_MAX_RETRIES: "0",
    SYNC_WAIT_MS: "0",
  });
  const clients = createClients(config, { credentials });
  api = checkedApi(apiFunction(config, clients).handler);
  worker = workerFunction(config, clients);
  store = new JobStore(clients.dynamodb, stack.names.table);
  const keys = new KeyStore(clients.dynamodb, stack.names.table);
  await keys.put(keyA, "a", "test");
  await keys.put(keyB, "b", "test");
});
afterAll(async () => {
  await fake?.close();
  await stack?.emulators.stop();
});
beforeEach(async () => {
  // Drain anything a previous test left on the queue.
  while (
    (await receiveEvent(stack.emulators.clients.sqs, stack.resources.jobsQueueUrl, 10, 0)).Records.length > 0
  );
});

describe("job pipeline", () => {
  it("records, enqueues, runs and stores a job; the job lists S3 keys, the API presigned URLs", async () => {
    const id = await submit({ prompt: "a heron", n: 2, size: "1024x1536", output_format: "jpeg" });
    expect((await job(id))?.status).toBe("queued");
    const event = await receiveEvent(stack.emulators.clients.sqs, stack.resources.jobsQueueUrl);
    expect(event.Records.map((r) => JSON.parse(r.body))).toEqual([{ v: 1, tenant: "a", job_id: id }]);

    expect(await work(event)).toEqual({ batchItemFailures: [] });
    const done = await job(id);
    expect(done?.status).toBe("succeeded");
    expect(done?.output?.images.map((i) => i.key)).toEqual([
      `tenants/a/jobs/${id}/output-0.jpg`,
      `tenants/a/jobs/${id}/output-1.jpg`,
    ]);
    expect(done?.usage).toMatchObject({ images: 2, provider_calls: 1, total_tokens: 210 });

    const object = await stack.emulators.clients.s3.send(
      new GetObjectCommand({ Bucket: stack.names.bucket, Key: done?.output?.images[0]?.key }),
    );
    const bytes = Buffer.from((await object.Body?.transformToByteArray()) ?? []);
    const meta = await sharp(bytes).metadata();
    expect([meta.format, meta.width, meta.height, object.ContentType]).toEqual([
      "jpeg",
      1024,
      1536,
      "image/jpeg",
    ]);

    const view = await call("GET", `/v1/jobs/${id}`);
    expect(view.body.output.images[0]).toMatchObject({ width: 1024, height: 1536, format: "jpeg" });
    expect(view.body.output.images[0].url).toContain("X-Amz-Signature=");
    expect(view.body.output.images[0]).not.toHaveProperty("key"); // S3 keys stay inside
  });

  it("sends OpenAI the output options a gpt-image model takes, as the SDK puts them on the wire", async () => {
    const id = await submit({
      prompt: "a kingfisher",
      output_format: "webp",
      output_compression: 60,
      background: "opaque",
      moderation: "low",
      quality: "low",
    });
    await work(await receiveEvent(stack.emulators.clients.sqs, stack.resources.jobsQueueUrl));
    expect((await job(id))?.status).toBe("succeeded");
    const sent = fake.requests.filter((r) => r.path.endsWith("/images/generations")).at(-1)?.json;
    expect(sent).toMatchObject({
      model: "gpt-image-2",
      prompt: "a kingfisher",
      output_format: "webp",
      output_compression: 60,
      background: "opaque",
      moderation: "low",
      quality: "low",
    });
    expect(sent).not.toHaveProperty("response_format");
  });

  it("a redelivered message neither calls the provider again nor writes new images", async () => {
    const id = await submit({ prompt: "once only" });
    const event = await receiveEvent(stack.emulators.clients.sqs, stack.resources.jobsQueueUrl);
    await work(event);
    const calls = fake.requests.length;
    const first = await job(id);

    expect(await work(event)).toEqual({ batchItemFailures: [] });
    expect(fake.requests.length).toBe(calls);
    const second = await job(id);
    expect(second?.output).toEqual(first?.output);
    expect(second?.attempts).toBe(1);
  });

  it("a duplicate delivery while another worker holds the lease is put back, not run twice", async () => {
    const id = await submit({ prompt: "contended" });
    const event = await receiveEvent(stack.emulators.clients.sqs, stack.resources.jobsQueueUrl);
    // Worker A claims the job and is still working on it.
    expect((await store.claim(await current(id), Date.now(), 60_000)).claimed).toBe(true);
    const calls = fake.requests.length;
    const result = await work(event);
    expect(result.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([event.Records[0]?.messageId]);
    expect(fake.requests.length).toBe(calls);
    expect((await job(id))?.status).toBe("running");
  });

  it("a job whose worker died (lease expired) is taken over and completes once", async () => {
    const id = await submit({ prompt: "orphaned" });
    const event = await receiveEvent(stack.emulators.clients.sqs, stack.resources.jobsQueueUrl);
    expect((await store.claim(await current(id), Date.now() - 120_000, 60_000)).claimed).toBe(true);
    expect(await work(event)).toEqual({ batchItemFailures: [] });
    const done = await job(id);
    expect(done?.status).toBe("succeeded");
    expect(done?.attempts).toBe(2);
  });

  it("a content-policy refusal fails the job at once with the provider's reason, without retrying", async () => {
    const id = await submit({ prompt: "refused" });
    fake.script(
      openaiError(400, "Your request was rejected by the safety system.", "content_policy_violation"),
    );
    const calls = fake.requests.length;
    expect(await work(await receiveEvent(stack.emulators.clients.sqs, stack.resources.jobsQueueUrl))).toEqual(
      {
        batchItemFailures: [],
      },
    );
    expect(fake.requests.length).toBe(calls + 1);
    expect((await job(id))?.error).toEqual({
      type: "invalid_request_error",
      code: "content_policy_violation",
      message: "Your request was rejected by the safety system.",
    });
  });

  it("insufficient_quota is not retried", async () => {
    const id = await submit({ prompt: "no money" });
    fake.script(
      openaiError(429, "You exceeded your current quota.", "insufficient_quota", "insufficient_quota"),
    );
    await work(await receiveEvent(stack.emulators.clients.sqs, stack.resources.jobsQueueUrl));
    expect((await job(id))?.error?.code).toBe("insufficient_quota");
  });

  it("a provider 5xx requeues the job with backoff, and fails it once attempts run out", async () => {
    const id = await submit({ prompt: "flaky" });
    const event = await receiveEvent(stack.emulators.clients.sqs, stack.resources.jobsQueueUrl);
    fake.script(openaiError(500, "The server had an error", null, "server_error"));
    const first = await work(event);
    expect(first.batchItemFailures).toHaveLength(1);
    const requeued = await job(id);
    expect(requeued?.status).toBe("queued");
    expect(requeued?.last_error?.code).toBe("provider_unavailable");

    // The last permitted receive: the fault is final now.
    const record = event.Records[0];
    if (!record) throw new Error("no record");
    const last: SQSEvent = {
      Records: [{ ...record, attributes: { ...record.attributes, ApproximateReceiveCount: "3" } }],
    };
    fake.script(openaiError(503, "Overloaded", null, "server_error"));
    expect(await work(last)).toEqual({ batchItemFailures: [] });
    expect((await job(id))?.error).toMatchObject({ code: "provider_unavailable", type: "server_error" });
  });

  it("reports a malformed message as failed instead of swallowing it", async () => {
    const record = {
      messageId: "m-1",
      receiptHandle: "rh",
      body: "{not json",
      attributes: { ApproximateReceiveCount: "1" },
    } as unknown as SQSEvent["Records"][number];
    expect(await work({ Records: [record] })).toEqual({ batchItemFailures: [{ itemIdentifier: "m-1" }] });
  });
});

describe("API", () => {
  it("hides one tenant's jobs from another: 404, never 403", async () => {
    const id = await submit({ prompt: "private to a" });
    const other = await call("GET", `/v1/jobs/${id}`, undefined, keyB);
    expect(other.status).toBe(404);
    expect(other.body.error).toMatchObject({ type: "invalid_request_error", code: "not_found" });
  });

  it("validates against the model's capabilities, naming the param", async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ prompt: "x", size: "1000x1000" }, "input.size", /multiples of 16/],
      [{ prompt: "x", model: "dall-e-3" }, "input.model", /shut down on 2026-05-12.*gpt-image-2/],
      [{ prompt: "x", model: "nope" }, "input.model", /does not exist/],
      [{ prompt: "x", quality: "hd" }, "input.quality", /does not support quality 'hd'/],
      [
        { prompt: "x", background: "transparent", output_format: "jpeg" },
        "input.background",
        /JPEG has no alpha/,
      ],
      [{ prompt: "" }, "input.prompt", /must not be empty/],
      [{ prompt: "x", colour: "red" }, "input.colour", /Unknown parameter/],
    ];
    for (const [input, param, message] of cases) {
      const res = await call("POST", "/v1/jobs", { operation: "generate", input });
      expect({ status: res.status, param: res.body.error.param }).toEqual({ status: 400, param });
      expect(res.body.error.message).toMatch(message);
    }
  });

  it("answers bad requests with the right status and OpenAI's envelope", async () => {
    const raw = async (
      method: string,
      path: string,
      body: string | undefined,
      headers: Record<string, string>,
    ) =>
      (await api(
        apiEvent(method, path, {
          ...(body !== undefined && { body }),
          headers: { authorization: `Bearer ${keyA}`, ...headers },
        }),
        context,
      )) as APIGatewayProxyStructuredResultV2;
    const cases: [APIGatewayProxyStructuredResultV2, number][] = [
      [await raw("POST", "/v1/jobs", "{oops", { "content-type": "application/json" }), 400],
      [await raw("POST", "/v1/jobs", "[]", { "content-type": "application/json" }), 400],
      [await raw("POST", "/v1/jobs", "prompt=x", { "content-type": "text/plain" }), 415],
      [
        await raw("POST", "/v1/jobs", "x".repeat(11 * 1024 * 1024), { "content-type": "application/json" }),
        413,
      ],
      [await raw("GET", "/v1/nothing", undefined, {}), 404],
      [await raw("DELETE", "/v1/jobs", undefined, {}), 405],
    ];
    for (const [res, status] of cases) {
      expect(res.statusCode).toBe(status);
      const body = JSON.parse(res.body ?? "");
      expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
    }
  });

  it("a record that no longer matches the schema is a 500 that reveals nothing", async () => {
    const id = "job_01m80000000000000000000000";
    await stack.emulators.clients.dynamodb.send(
      new PutItemCommand({
        TableName: stack.names.table,
        Item: marshall({ pk: "T#a", sk: `J#${id}`, id, status: "exploded", secret: "internal detail" }),
      }),
    );
    const res = await call("GET", `/v1/jobs/${id}`);
    expect(res.status).toBe(500);
    expect(res.body.error).toEqual({
      message: "The server had an error while processing your request.",
      type: "server_error",
      param: null,
      code: "internal_error",
    });
  });

  it("fails the job and answers 503 when the queue is unreachable, leaving nothing queued", async () => {
    const broken = checkedApi(
      apiFunction(
        stack.config({ JOBS_QUEUE_URL: "http://127.0.0.1:9/000000000000/missing" }),
        createClients(stack.config(), { credentials }),
      ).handler,
    );
    const res = (await broken(
      apiEvent("POST", "/v1/jobs", {
        body: { operation: "generate", input: { prompt: "lost?" } },
        headers: { authorization: `Bearer ${keyA}` },
      }),
      context,
    )) as APIGatewayProxyStructuredResultV2;
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body ?? "").error.code).toBe("service_unavailable");
  });
});
