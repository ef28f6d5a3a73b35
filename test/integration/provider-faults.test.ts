import { ChangeMessageVisibilityCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import type { APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { KeyStore } from "../../lib/auth/keys.ts";
import { type JobRunner, RetryLaterError } from "../../lib/jobs/runner.ts";
import { JobStore } from "../../lib/jobs/store.ts";
import { createClients } from "../../lib/runtime.ts";
import { checkedApi } from "../support/contract.ts";
import { credentials, startTestStack, type TestStack } from "../support/emulators.ts";
import {
  type FakeOpenAI,
  openaiError,
  type ScriptedResponse,
  startFakeOpenAI,
} from "../support/fake-openai.ts";
import { apiFunction, workerFunction } from "../support/functions.ts";
import { apiEvent, receiveEvent } from "../support/lambda.ts";

// What happens when the provider misbehaves: the real openai SDK against a fake server that answers with
// scripted faults, driven through the worker Lambda's runner against real emulators.

const context = { getRemainingTimeInMillis: () => 60_000 } as Context;
const key = "sk-img-provider-faults-key-00000";
const providerKey = "sk-proj-faults-provider-key-0123456789";

let stack: TestStack;
let fake: FakeOpenAI;
let api: ReturnType<typeof apiFunction>["handler"];
let runner: JobRunner;
let worker: ReturnType<typeof workerFunction>;
let store: JobStore;
let clients: ReturnType<typeof createClients>;

async function submit(prompt: string): Promise<string> {
  const res = (await api(
    apiEvent("POST", "/v1/jobs", {
      body: { operation: "generate", input: { prompt } },
      headers: { authorization: `Bearer ${key}` },
    }),
    context,
  )) as APIGatewayProxyStructuredResultV2;
  expect(res.statusCode).toBe(202);
  return JSON.parse(res.body ?? "").id;
}

const job = (id: string) => store.get("faults", id, true);

/** Runs a job once as receive number `receive`, with `remainingMs` left in the invocation. */
async function attempt(id: string, receive = 1, remainingMs = 60_000, withRunner = runner) {
  const calls = fake.requests.length;
  const started = Date.now();
  const outcome = await withRunner.run("faults", id, receive, () => remainingMs).catch((e: unknown) => e);
  return { outcome, calls: fake.requests.length - calls, ms: Date.now() - started };
}

const scriptTimes = (n: number, response: ScriptedResponse) =>
  fake.script(...Array.from({ length: n }, () => response));

beforeAll(async () => {
  stack = await startTestStack({ maxAttempts: 3 });
  fake = await startFakeOpenAI();
  const config = stack.config({
    OPENAI_API_KEY: providerKey,
    OPENAI_BASE_URL: fake.baseURL,
    PROVIDER_MAX_RETRIES: "2",
    SYNC_WAIT_MS: "0",
  });
  clients = createClients(config, { credentials });
  api = checkedApi(apiFunction(config, clients).handler);
  worker = workerFunction(config, clients);
  runner = worker.runner;
  store = new JobStore(clients.dynamodb, stack.names.table);
  await new KeyStore(clients.dynamodb, stack.names.table).put(key, "faults", "test");
});
afterAll(async () => {
  await fake?.close();
  await stack?.emulators.stop();
});
beforeEach(async () => {
  while (
    (await receiveEvent(stack.emulators.clients.sqs, stack.resources.jobsQueueUrl, 10, 0)).Records.length > 0
  );
});
afterEach(() => fake.setLatency(0));

describe("retried within the attempt", () => {
  it("retries 5xx with growing, jittered backoff and succeeds in one attempt", async () => {
    const id = await submit("flaky");
    fake.script(openaiError(500, "The server had an error", null, "server_error"));
    fake.script(openaiError(503, "Overloaded", null, "server_error"));
    const first = fake.requests.length;
    const { outcome, calls } = await attempt(id);
    expect({ outcome, calls }).toEqual({ outcome: "succeeded", calls: 3 });
    const [a, b, c] = fake.requests.slice(first).map((r) => r.at);
    // First retry after 250-500 ms, the second after 500-1000 ms.
    expect((b ?? 0) - (a ?? 0)).toBeGreaterThanOrEqual(240);
    expect((c ?? 0) - (b ?? 0)).toBeGreaterThanOrEqual(490);
    expect((await job(id))?.attempts).toBe(1);
  });

  it("waits as long as the provider's retry-after asks", async () => {
    const id = await submit("slow down");
    fake.script({
      ...openaiError(429, "Rate limit reached", "rate_limit_exceeded", "requests"),
      headers: { "retry-after-ms": "700" },
    });
    const first = fake.requests.length;
    expect((await attempt(id)).outcome).toBe("succeeded");
    const [a, b] = fake.requests.slice(first).map((r) => r.at);
    // Longer than any jittered backoff of a first retry (at most 500 ms): the header set it.
    expect((b ?? 0) - (a ?? 0)).toBeGreaterThanOrEqual(690);
  });
});

describe("handed back to the queue", () => {
  it("a Retry-After longer than an attempt should wait requeues the job, never sooner than asked", async () => {
    const id = await submit("come back later");
    fake.script({
      ...openaiError(429, "Rate limit reached", "rate_limit_exceeded", "requests"),
      headers: { "retry-after": "40" },
    });
    const { outcome, calls, ms } = await attempt(id);
    expect(calls).toBe(1);
    expect(ms).toBeLessThan(1_000);
    expect(outcome).toBeInstanceOf(RetryLaterError);
    expect((outcome as RetryLaterError).delaySeconds).toBeGreaterThanOrEqual(40);
    expect(await job(id)).toMatchObject({ status: "queued", last_error: { code: "provider_rate_limited" } });
  });

  it("never retries past the invocation's remaining time", async () => {
    const id = await submit("almost out of time");
    // One fault scripted: a retry, were there one, would succeed and show.
    fake.script(openaiError(503, "Overloaded", null, "server_error"));
    // 11.5 s left: 1.5 s for the provider after the 10 s kept for recording the outcome. No retry fits.
    const { outcome, calls, ms } = await attempt(id, 1, 11_500);
    expect(calls).toBe(1);
    expect(ms).toBeLessThan(1_000);
    expect(outcome).toBeInstanceOf(RetryLaterError);
    expect((await job(id))?.last_error?.code).toBe("provider_unavailable");
  });

  it("cuts a provider that does not answer at PROVIDER_TIMEOUT_MS, then fails the job when attempts run out", async () => {
    const config = stack.config({
      OPENAI_API_KEY: providerKey,
      OPENAI_BASE_URL: fake.baseURL,
      PROVIDER_MAX_RETRIES: "2",
      PROVIDER_TIMEOUT_MS: "1000",
    });
    const impatient = workerFunction(config, clients).runner;
    const id = await submit("never answers");
    fake.setLatency(3_000);
    const first = await attempt(id, 1, 60_000, impatient);
    expect(first.outcome).toBeInstanceOf(RetryLaterError);
    // One try, cut at 1 s: the attempt's budget is the timeout, so no retry could fit after it.
    expect(first.calls).toBe(1);
    expect(first.ms).toBeGreaterThanOrEqual(990);
    expect(first.ms).toBeLessThan(1_800);
    expect((await job(id))?.last_error).toEqual({
      type: "server_error",
      code: "provider_timeout",
      message: "The provider did not answer in time.",
    });
    const last = await attempt(id, 3, 60_000, impatient);
    expect(last.outcome).toBe("failed");
    expect((await job(id))?.error?.code).toBe("provider_timeout");
  });
});

describe("never retried", () => {
  it("insufficient_quota: one request, where the SDK alone would have made three", async () => {
    const id = await submit("no money");
    fake.script(
      openaiError(
        429,
        "You exceeded your current quota, please check your plan and billing details.",
        "insufficient_quota",
        "insufficient_quota",
      ),
    );
    const { outcome, calls } = await attempt(id);
    expect({ outcome, calls }).toEqual({ outcome: "failed", calls: 1 });
    expect((await job(id))?.error).toEqual({
      type: "server_error",
      code: "insufficient_quota",
      message: "You exceeded your current quota, please check your plan and billing details.",
    });
  });

  it("a bad request or a moderation refusal fails the job with the provider's reason, secrets stripped", async () => {
    const cases: [ScriptedResponse, { type: string; code: string; message: string }][] = [
      [
        openaiError(400, "Invalid value for 'size': '1000x1000'.", "invalid_value"),
        {
          type: "invalid_request_error",
          code: "invalid_request_error",
          message: "Invalid value for 'size': '1000x1000'.",
        },
      ],
      [
        openaiError(400, "Your request was rejected as a result of our safety system.", "moderation_blocked"),
        {
          type: "invalid_request_error",
          code: "content_policy_violation",
          message: "Your request was rejected as a result of our safety system.",
        },
      ],
      [
        openaiError(400, `Bad request for key ${providerKey} in org org-123.`, null),
        {
          type: "invalid_request_error",
          code: "invalid_request_error",
          message: "Bad request for key [redacted] in org org-123.",
        },
      ],
      [
        openaiError(
          401,
          `Incorrect API key provided: ${providerKey.slice(0, 8)}****************************6789.`,
          "invalid_api_key",
        ),
        {
          type: "server_error",
          code: "provider_authentication_failed",
          message: "Incorrect API key provided: sk-[redacted].",
        },
      ],
    ];
    for (const [response, error] of cases) {
      const id = await submit("refused");
      fake.script(response);
      const { outcome, calls } = await attempt(id);
      expect({ outcome, calls, error: (await job(id))?.error }).toEqual({
        outcome: "failed",
        calls: 1,
        error,
      });
    }
  });
});

describe("when nothing more can be done", () => {
  it("fails the job with a clear code once the last attempt's retries run out", async () => {
    const id = await submit("down for good");
    scriptTimes(3, openaiError(503, "The engine is currently overloaded.", null, "server_error"));
    const { outcome, calls } = await attempt(id, 3);
    expect({ outcome, calls }).toEqual({ outcome: "failed", calls: 3 });
    expect((await job(id))?.error).toEqual({
      type: "server_error",
      code: "provider_unavailable",
      message: "The engine is currently overloaded.",
    });
  });

  it("fails a job whose every attempt died without an outcome, instead of running it again", async () => {
    const id = await submit("killed each time");
    // Three workers claimed it and were cut off by Lambda's timeout before recording anything.
    for (let i = 0; i < 3; i++) {
      const current = await job(id);
      if (!current) throw new Error("job missing");
      await store.claim(current, Date.now() - 600_000, 1);
    }
    const { outcome, calls } = await attempt(id, 4);
    expect({ outcome, calls }).toEqual({ outcome: "failed", calls: 0 });
    expect((await job(id))?.error).toEqual({
      type: "server_error",
      code: "attempts_exhausted",
      message: "The job did not finish in 3 attempts.",
    });
  });

  it("sends a message that can never succeed to the DLQ: malformed, or naming no job", async () => {
    const { sqs } = stack.emulators.clients;
    const queueUrl = stack.resources.jobsQueueUrl;
    const bodies = [
      "{not json",
      JSON.stringify({ v: 1, tenant: "faults", job_id: "job_01m8000000000000000nothere" }),
    ];
    for (const body of bodies)
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
    // Each receive is reported failed; after maxAttempts + 2 receives the redrive policy moves it to the DLQ.
    let failures = 0;
    for (let round = 0; round < 20; round++) {
      const event = await receiveEvent(sqs, queueUrl, 10, 0);
      if (event.Records.length === 0) break;
      failures += (await worker.invoke(event)).batchItemFailures.length;
      for (const r of event.Records) {
        // Lambda would see it again after the visibility timeout; the test need not wait for that.
        await sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: queueUrl,
            ReceiptHandle: r.receiptHandle,
            VisibilityTimeout: 0,
          }),
        );
      }
    }
    expect(failures).toBe(2 * 5);
    const dead = await receiveEvent(sqs, stack.resources.jobsDlqUrl, 10, 1);
    expect(dead.Records.map((r) => r.body).sort()).toEqual([...bodies].sort());
  });
});
