import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyStore } from "../../lib/auth/keys.ts";
import { RetryLaterError } from "../../lib/jobs/runner.ts";
import { JobStore } from "../../lib/jobs/store.ts";
import {
  limiterActions,
  type ProviderKeyLimit,
  ProviderRateLimiter,
} from "../../lib/limits/provider-rate.ts";
import { createLogger } from "../../lib/logging.ts";
import { createClients } from "../../lib/runtime.ts";
import { credentials, startTestStack, type TestStack } from "../support/emulators.ts";
import { type FakeOpenAI, openaiError, startFakeOpenAI } from "../support/fake-openai.ts";
import { apiFunction, workerFunction } from "../support/functions.ts";
import { apiEvent } from "../support/lambda.ts";

// The provider limiter against DynamoDB (dynalite): a 429 that still reaches the provider halves that key's
// rate for one window, and the limiter calls nothing the stack does not grant the worker.

const context = { getRemainingTimeInMillis: () => 60_000 } as Context;
const apiKey = "sk-img-provider-rate-key-0000000";
const logger = createLogger({ level: "silent", format: "json", service: "test" });
const minute: ProviderKeyLimit = { name: "project-a", images_per_window: 4, window_seconds: 60 };

let stack: TestStack;
let fake: FakeOpenAI;
let clients: ReturnType<typeof createClients>;
/** A client the limiter alone uses, and every DynamoDB command it sent, by name. */
let limiterClients: ReturnType<typeof createClients>;
const commands = new Set<string>();

beforeAll(async () => {
  stack = await startTestStack();
  fake = await startFakeOpenAI();
  clients = createClients(stack.config(), { credentials });
  limiterClients = createClients(stack.config(), { credentials });
  limiterClients.dynamodb.middlewareStack.add(
    (next, ctx) => (args) => {
      commands.add(ctx.commandName ?? "unknown");
      return next(args);
    },
    { step: "initialize", name: "recordCommands" },
  );
});
afterAll(async () => {
  await fake?.close();
  await stack?.emulators.stop();
});

/** How many of `tries` single-image acquisitions at `now` are admitted. */
async function admitted(limiter: ProviderRateLimiter, tries: number, now: number): Promise<number> {
  let n = 0;
  for (let i = 0; i < tries; i++) if ((await limiter.acquire("openai", 1, now))?.admitted) n++;
  return n;
}

describe("the provider limiter's 429 penalty", () => {
  it("halves the key's limit for one window after a 429, then gives the whole limit back", async () => {
    const limiter = new ProviderRateLimiter(
      limiterClients.dynamodb,
      stack.names.table,
      { openai: [minute] },
      logger,
    );
    const t0 = Date.UTC(2026, 11, 1, 12, 0, 0);
    await limiter.penalize("openai", "project-a", t0);
    // Within the window after the 429: 2 of the 4 images.
    expect(await admitted(limiter, 5, t0 + 1_000)).toBe(2);
    const refused = await limiter.acquire("openai", 1, t0 + 2_000);
    expect(refused).toMatchObject({ admitted: false });
    // The penalty has ended; the two taken at t0 + 1 s still count (the span is 65 s): 2 more make the 4.
    expect(await admitted(limiter, 5, t0 + 61_000)).toBe(2);
    // The item expires (TTL) after the span it counts.
    const item = await clients.dynamodb.send(
      new GetItemCommand({
        TableName: stack.names.table,
        Key: { pk: { S: "PRL#openai#project-a" }, sk: { S: "STATE" } },
      }),
    );
    const state = unmarshall(item.Item ?? {});
    expect(state.ttl).toBeGreaterThan((t0 + 61_000) / 1000 + 60);
    expect(state.ttl).toBeLessThanOrEqual((t0 + 61_000) / 1000 + 120);
  });

  it("is set by the worker when a 429 reaches the provider call despite the limiter", async () => {
    const env = {
      OPENAI_API_KEY: "sk-proj-rate-provider-key-0123456789",
      OPENAI_BASE_URL: fake.baseURL,
      PROVIDER_MAX_RETRIES: "0",
      SYNC_WAIT_MS: "0",
      PROVIDER_RATE_LIMITS: JSON.stringify({ openai: [{ name: "project-w", images_per_minute: 4 }] }),
    };
    const config = stack.config(env);
    const api = apiFunction(config, clients).handler;
    const runner = workerFunction(config, clients).runner;
    await new KeyStore(clients.dynamodb, stack.names.table).put(apiKey, "rated", "test");
    const res = (await api(
      apiEvent("POST", "/v1/jobs", {
        body: { operation: "generate", input: { prompt: "too fast" } },
        headers: { authorization: `Bearer ${apiKey}` },
      }),
      context,
    )) as APIGatewayProxyStructuredResultV2;
    expect(res.statusCode).toBe(202);
    const id = JSON.parse(res.body ?? "").id as string;
    fake.script(openaiError(429, "Rate limit reached", "rate_limit_exceeded", "requests"));
    const outcome = await runner.run("rated", id, 1, () => 60_000).catch((e: unknown) => e);
    expect(outcome).toBeInstanceOf(RetryLaterError);
    expect(await new JobStore(clients.dynamodb, stack.names.table).get("rated", id, true)).toMatchObject({
      status: "queued",
      last_error: { code: "provider_rate_limited" },
    });
    // The job took 1 of 4; halved, the key has room for 1 more in this window, not 3.
    const limiter = new ProviderRateLimiter(
      clients.dynamodb,
      stack.names.table,
      { openai: [{ name: "project-w", images_per_window: 4, window_seconds: 60 }] },
      logger,
    );
    expect(await admitted(limiter, 4, Date.now())).toBe(1);
  });

  it("calls only the DynamoDB actions the stack grants the worker for it", () => {
    // test/infra/stack.test.ts checks that the worker, and only it, is granted limiterActions on the table.
    const called = [...commands].map((c) => `dynamodb:${c.replace(/Command$/, "")}`);
    expect(called.sort()).toEqual([...limiterActions].sort());
  });
});
