import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClients } from "../../lib/runtime.ts";
import { checkedApi } from "../support/contract.ts";
import { startTestStack, type TestStack } from "../support/emulators.ts";
import { type FakeOpenAI, openaiError, startFakeOpenAI } from "../support/fake-openai.ts";
import { apiFunction, workerFunction } from "../support/functions.ts";
import type { Json } from "../support/http.ts";
import { apiEvent, receiveEvent } from "../support/lambda.ts";

// Secret hygiene: plant every kind of secret the service handles, drive it through success and every
// fault that could echo one, with debug logging on, then look for the secrets in everything it said.

const context = { getRemainingTimeInMillis: () => 60_000 } as Context;

const planted = {
  providerKey: "sk-proj-PLANTEDprovider0123456789abcdefXYZW",
  // Not sk-shaped: only the configured-secret redaction can catch it.
  adminKey: "admin-PLANTED-not-sk-shaped-0123456789abcdef",
  wrongGuess: "sk-img-PLANTEDwrongGuess000000000000",
  awsAccessKeyId: "AKIAPLANTED000000001",
  awsSecretAccessKey: "PLANTEDawsSecretAccessKey0123456789abcdefg",
  awsSessionToken: "PLANTEDawsSessionToken0123456789abcdefghijklmnop",
  providerUrlSignature: "PLANTEDproviderUrlSignature0123456789",
  providerUrlCredential: "AKIAPLANTEDPROVIDER1",
};

let stack: TestStack;
let fake: FakeOpenAI;
let api: ReturnType<typeof apiFunction>["handler"];
let worker: ReturnType<typeof workerFunction>;
const logs: string[] = [];
const responses: { label: string; text: string }[] = [];
const tenantKeys: string[] = [];
let issuedKeyResponse = "";

async function call(
  label: string,
  method: string,
  path: string,
  key: string | undefined,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const res = (await api(
    apiEvent(method, path, {
      body,
      query: path === "/admin/keys" && method === "GET" ? "tenant=acme" : "",
      headers: { ...(key !== undefined && { authorization: `Bearer ${key}` }), ...headers },
    }),
    context,
  )) as APIGatewayProxyStructuredResultV2;
  const text = `${JSON.stringify(res.headers)}\n${res.body ?? ""}`;
  responses.push({ label, text });
  return { status: res.statusCode, body: JSON.parse(res.body || "null") as Json };
}

async function work() {
  for (;;) {
    const event = await receiveEvent(stack.emulators.clients.sqs, stack.resources.jobsQueueUrl, 10, 0);
    if (event.Records.length === 0) return;
    await worker.invoke(event);
  }
}

/** Presigned image URLs carry the access key id (and a session token) by design: they are the product. */
function withoutImageUrls(text: string): string {
  const endpoint = stack.emulators.awsEndpoint;
  return text.replace(
    new RegExp(`${endpoint.replace(/[.:/]/g, "\\$&")}/${stack.names.bucket}/tenants/[^"\\s]+`, "g"),
    "<image-url>",
  );
}

beforeAll(async () => {
  stack = await startTestStack({ maxAttempts: 3 });
  fake = await startFakeOpenAI();
  const config = stack.config({
    OPENAI_API_KEY: planted.providerKey,
    OPENAI_BASE_URL: fake.baseURL,
    ADMIN_API_KEY: planted.adminKey,
    PROVIDER_MAX_RETRIES: "1",
    SYNC_WAIT_MS: "0",
    LOG_LEVEL: "debug",
  });
  const clients = createClients(config, {
    credentials: {
      accessKeyId: planted.awsAccessKeyId,
      secretAccessKey: planted.awsSecretAccessKey,
      sessionToken: planted.awsSessionToken,
    },
  });
  const logWrite = (line: string) => logs.push(line);
  api = checkedApi(apiFunction(config, clients, { logWrite }).handler);
  worker = workerFunction(config, clients, { logWrite });

  // Keys, and every way to misuse them.
  const issued = await call("issue key", "POST", "/admin/keys", planted.adminKey, {
    tenant: "acme",
    name: "app",
  });
  expect(issued.status).toBe(201);
  tenantKeys.push(issued.body.key);
  issuedKeyResponse = responses.pop()?.text ?? "";
  const key = issued.body.key as string;
  expect((await call("list keys", "GET", "/admin/keys", planted.adminKey)).status).toBe(200);
  expect((await call("wrong key", "GET", "/v1/models", planted.wrongGuess)).status).toBe(401);
  expect(
    (
      await call("wrong x-api-key", "GET", "/v1/models", undefined, undefined, {
        "x-api-key": planted.wrongGuess,
      })
    ).status,
  ).toBe(401);
  expect((await call("admin on tenant route", "GET", "/v1/models", planted.adminKey)).status).toBe(403);
  expect((await call("tenant on admin route", "GET", "/admin/keys", key)).status).toBe(403);

  // Success: presigned URLs in the answer, nothing secret in the logs.
  const sync = await call("generate", "POST", "/v1/images/generations", key, { prompt: "a fine image" });
  expect(sync.status).toBe(504); // SYNC_WAIT_MS 0: the job goes on
  const job = (input: Record<string, unknown> = { prompt: "p" }) =>
    call("submit", "POST", "/v1/jobs", key, { operation: "generate", input });
  const ok = (await job()).body.id;
  await work();

  // The provider's 401 echoes the key, whole or masked the way OpenAI does.
  fake.script(openaiError(401, `Incorrect API key provided: ${planted.providerKey}.`, "invalid_api_key"));
  const echoed = (await job()).body.id;
  await work();
  fake.script(
    openaiError(
      401,
      `Incorrect API key provided: sk-proj-${"*".repeat(36)}XYZW. You can find your API key at https://platform.openai.com/account/api-keys.`,
      "invalid_api_key",
    ),
  );
  const masked = (await job()).body.id;
  await work();
  // A 5xx echoing it is retried in the call, then requeued with it in last_error.
  fake.script(
    openaiError(500, `Upstream rejected token ${planted.providerKey}`, null, "server_error"),
    openaiError(500, `Upstream rejected token ${planted.providerKey}`, null, "server_error"),
  );
  const requeued = (await job()).body.id;
  await work();
  // The provider answers with a presigned URL of its own that cannot be fetched; the fetch error quotes it.
  fake.script({
    status: 200,
    body: {
      created: 0,
      data: [
        {
          url: `http://bad host/img.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${planted.providerUrlCredential}%2F20261122%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=${planted.providerUrlSignature}`,
        },
      ],
    },
  });
  const download = (await job()).body.id;
  await work();

  for (const id of [ok, echoed, masked, requeued, download])
    await call("read job", "GET", `/v1/jobs/${id}`, key);
});
afterAll(async () => {
  await fake?.close();
  await stack?.emulators.stop();
});

describe("secret hygiene", () => {
  it("exercised what it meant to: successes, echoed keys, retries and failed downloads", () => {
    const reads = responses
      .filter((r) => r.label === "read job")
      .map((r) => JSON.parse(r.text.split("\n")[1] ?? ""));
    expect(reads.map((j: Json) => j.status)).toEqual(["succeeded", "failed", "failed", "queued", "queued"]);
    expect(reads[1].error.message).toBe("Incorrect API key provided: [redacted].");
    expect(reads[2].error.message).toMatch(/^Incorrect API key provided: sk-\[redacted\]\. You can find/);
    expect(reads[0].output.images[0].url).toContain(`X-Amz-Credential=${planted.awsAccessKeyId}`);
    expect(logs.length).toBeGreaterThan(20);
    // Powertools' JSON logger (LOG_FORMAT=json since issue 5) writes the level in capitals.
    expect(logs.some((l) => /"level":"debug"/i.test(l))).toBe(true);
    expect(issuedKeyResponse).toContain(tenantKeys[0]);
    // The provider's presigned URL did reach a log line, masked.
    expect(logs.join("\n")).toMatch(
      /Failed to parse URL from http:\/\/bad host\/img\.png\?.*X-Amz-Credential=\[redacted\]/,
    );
  });

  it("no secret in any log line", () => {
    const all = logs.join("\n");
    for (const [name, secret] of Object.entries({ ...planted, tenantKey: tenantKeys[0] ?? "" })) {
      expect({ name, found: all.includes(secret) }).toEqual({ name, found: false });
    }
    // Nor a recognisable part of the provider key, as its echo would show.
    expect(all).not.toContain(planted.providerKey.slice(8, 28));
    expect(all).not.toMatch(/X-Amz-(Signature|Credential|Security-Token)=(?!\[redacted\])/);
  });

  it("no secret in any response, the presigned image URLs aside; a tenant key only in the answer that issued it", () => {
    for (const { label, text } of responses) {
      const scanned = withoutImageUrls(text);
      for (const [name, secret] of Object.entries({ ...planted, tenantKey: tenantKeys[0] ?? "" })) {
        expect({ label, name, found: scanned.includes(secret) }).toEqual({ label, name, found: false });
      }
    }
    expect(withoutImageUrls(issuedKeyResponse)).not.toContain(planted.adminKey);
  });

  it("no secret and no presigned URL in any stored record", async () => {
    const res = await stack.emulators.clients.dynamodb.send(
      new ScanCommand({ TableName: stack.names.table }),
    );
    const items = JSON.stringify((res.Items ?? []).map((i) => unmarshall(i)));
    expect(items).toContain("Upstream rejected token [redacted]"); // the requeued job's last_error
    for (const [name, secret] of Object.entries({ ...planted, tenantKey: tenantKeys[0] ?? "" })) {
      expect({ name, found: items.includes(secret) }).toEqual({ name, found: false });
    }
    expect(items).not.toContain("X-Amz-");
  });
});
