import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { KeyStore } from "../../lib/auth/keys.ts";
import { ConfigError, configSecrets, loadConfig } from "../../lib/config.ts";
import {
  createProviders,
  createRegistry,
  enabledProviders,
  withAdminKey,
  withPooledKeys,
  withProviderKey,
  withUpstreamKeys,
} from "../../lib/runtime.ts";
import { readProviderKey, SecretReadError, unsetSecretValue } from "../../lib/secrets.ts";
import { checkedApi } from "../support/contract.ts";
import { startTestStack, type TestStack } from "../support/emulators.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../support/fake-openai.ts";
import {
  type FakeSecretsManager,
  secretArn,
  startFakeSecretsManager,
} from "../support/fake-secrets-manager.ts";
import { apiFunction, quietObservability, workerFunction } from "../support/functions.ts";

// In AWS the provider key lives in Secrets Manager: the functions get its ARN, read it once at cold start,
// and the key itself never appears in their environment.

const providerKey = "sk-proj-from-secrets-manager-0123456789abcdef";

function context(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "api",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:api",
    memoryLimitInMB: "1024",
    awsRequestId: "req-1",
    logGroupName: "/aws/lambda/api",
    logStreamName: "s",
    getRemainingTimeInMillis: () => 29_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function get(path: string, key: string): APIGatewayProxyEventV2 {
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path.split("?")[0] ?? path,
    rawQueryString: path.split("?")[1] ?? "",
    headers: { authorization: `Bearer ${key}` },
    requestContext: {
      accountId: "123456789012",
      apiId: "api",
      domainName: "example.com",
      domainPrefix: "example",
      http: { method: "GET", path, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "test" },
      requestId: "req-1",
      routeKey: "$default",
      stage: "$default",
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    isBase64Encoded: false,
  };
}

describe("reading the provider key", () => {
  let sm: FakeSecretsManager;
  let client: SecretsManagerClient;

  beforeAll(async () => {
    sm = await startFakeSecretsManager();
    client = new SecretsManagerClient({
      region: "us-east-1",
      endpoint: sm.endpoint,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
  });
  afterAll(async () => {
    client?.destroy();
    await sm?.close();
  });

  it("takes the secret string as the key, trimmed", async () => {
    sm.secrets.set(secretArn("plain"), `  ${providerKey}\n`);
    await expect(readProviderKey(client, secretArn("plain"))).resolves.toBe(providerKey);
  });

  it("takes OPENAI_API_KEY from a key/value secret", async () => {
    sm.secrets.set(secretArn("kv"), JSON.stringify({ OPENAI_API_KEY: providerKey }));
    await expect(readProviderKey(client, secretArn("kv"))).resolves.toBe(providerKey);
  });

  it("treats the stack's initial marker as no key yet", async () => {
    sm.secrets.set(secretArn("unset"), unsetSecretValue);
    sm.secrets.set(secretArn("unset-kv"), JSON.stringify({ OPENAI_API_KEY: "" }));
    await expect(readProviderKey(client, secretArn("unset"))).resolves.toBeUndefined();
    await expect(readProviderKey(client, secretArn("unset-kv"))).resolves.toBeUndefined();
  });

  it("rejects JSON without the field, without echoing the secret", async () => {
    sm.secrets.set(secretArn("wrong"), JSON.stringify({ apiKey: providerKey }));
    const err = await readProviderKey(client, secretArn("wrong")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretReadError);
    expect((err as Error).message).toContain("OPENAI_API_KEY");
    expect((err as Error).message).not.toContain(providerKey);
  });

  it("fails cold start with the secret's ARN when access is denied", async () => {
    sm.secrets.set(secretArn("denied"), providerKey);
    sm.denyAccess(true);
    try {
      const err = await readProviderKey(client, secretArn("denied")).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SecretReadError);
      expect((err as Error).message).toContain(secretArn("denied"));
      expect(((err as Error).cause as Error).name).toBe("AccessDeniedException");
    } finally {
      sm.denyAccess(false);
    }
  });

  it("refuses a configuration with both a key and a secret", () => {
    expect(() =>
      loadConfig({
        JOBS_TABLE: "t",
        IMAGES_BUCKET: "b",
        JOBS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/q",
        WEBHOOKS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/q-webhooks",
        OPENAI_API_KEY: providerKey,
        OPENAI_API_KEY_SECRET_ARN: secretArn("x"),
      }),
    ).toThrow(ConfigError);
  });
});

describe("functions configured with a secret ARN", () => {
  let stack: TestStack;
  let sm: FakeSecretsManager;
  let openai: FakeOpenAI;

  beforeAll(async () => {
    [stack, sm, openai] = await Promise.all([startTestStack(), startFakeSecretsManager(), startFakeOpenAI()]);
    sm.secrets.set(secretArn("provider"), providerKey);
    // Lambda's role credentials arrive in the environment; the Secrets Manager client finds them there.
    vi.stubEnv("AWS_ACCESS_KEY_ID", "test");
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", "test");
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await Promise.all([stack?.emulators.stop(), sm?.close(), openai?.close()]);
  });

  it("read the secret once and call the provider with it", async () => {
    const config = stack.config({
      OPENAI_API_KEY_SECRET_ARN: secretArn("provider"),
      AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.endpoint,
      OPENAI_BASE_URL: openai.baseURL,
      PLACEHOLDER_FALLBACK: "false",
    });
    expect(config.OPENAI_API_KEY).toBeUndefined();
    const reads = sm.reads.length;
    const withKey = await withProviderKey(config, "worker");
    expect(sm.reads.length - reads).toBe(1);
    expect(withKey.OPENAI_API_KEY).toBe(providerKey);

    // The API is told the provider is configured (it may not read the key): it serves gpt-image-2 itself, not
    // through a stand-in.
    const api = checkedApi(
      apiFunction(
        stack.config({ OPENAI_ENABLED: "true", PLACEHOLDER_FALLBACK: "false" }),
        stack.emulators.clients,
      ).handler,
    );
    const apiKey = KeyStore.generate();
    await new KeyStore(stack.emulators.clients.dynamodb, stack.names.table).put(apiKey, "acme", "test");
    const models = JSON.parse((await api(get("/v1/models", apiKey), context())).body ?? "{}");
    const gpt = models.data.find((m: { id: string }) => m.id === "gpt-image-2");
    expect(gpt).toMatchObject({ served_by: "openai" });
    expect(gpt.stand_in).toBeUndefined();
    expect(sm.reads.length - reads).toBe(1);
    // The batch poller (the batch lane) reads it the same way: it downloads the batches' results from OpenAI.
    expect((await withProviderKey(config, "batch-poller")).OPENAI_API_KEY).toBe(providerKey);

    // The worker calls the provider with the key from the secret.
    const { jobs } = apiFunction(withKey, stack.emulators.clients, { observability: quietObservability() });
    const job = await jobs.submit({
      principal: { tenant: "acme", keyId: "test", limits: {} },
      provider: "openai",
      work: {
        operation: "generate",
        input: {
          prompt: "a key from a secret",
          model: "gpt-image-2",
          n: 1,
          size: "1024x1024",
          output_format: "png",
          response_format: "url",
        },
      },
    });
    const runner = workerFunction(withKey, stack.emulators.clients).runner;
    await expect(runner.run("acme", job.id, 1, () => 60_000)).resolves.toBe("succeeded");
    expect(openai.requests.at(-1)?.headers.authorization).toBe(`Bearer ${providerKey}`);
  });

  it("leave OpenAI models unavailable while the secret holds the marker", async () => {
    sm.secrets.set(secretArn("empty"), unsetSecretValue);
    const config = await withProviderKey(
      stack.config({
        OPENAI_API_KEY_SECRET_ARN: secretArn("empty"),
        AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.endpoint,
        PLACEHOLDER_FALLBACK: "false",
      }),
      "worker",
    );
    expect(config.OPENAI_API_KEY).toBeUndefined();
    expect(enabledProviders(config)).toEqual(["placeholder"]);
  });

  it("read an upstream's key from its secret for the worker, and call the upstream with it", async () => {
    const upstreamKey = "sk-upstream-from-a-secret-0123456789";
    sm.secrets.set(secretArn("studio"), upstreamKey);
    const config = stack.config({
      AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.endpoint,
      PLACEHOLDER_FALLBACK: "false",
      OPENAI_COMPATIBLE_UPSTREAMS: JSON.stringify([
        {
          name: "studio",
          base_url: openai.baseURL,
          api_key_secret_arn: secretArn("studio"),
          models: [{ id: "sdxl" }],
        },
      ]),
    });
    expect(config.OPENAI_COMPATIBLE_UPSTREAMS?.[0]?.api_key).toBeUndefined();
    const reads = sm.reads.length;
    const withKeys = await withUpstreamKeys(config, "worker");
    expect(sm.reads.slice(reads)).toEqual([secretArn("studio")]);
    expect(withKeys.OPENAI_COMPATIBLE_UPSTREAMS?.[0]?.api_key).toBe(upstreamKey);
    const studio = createProviders(withKeys).find((p) => p.name === "studio");
    const model = createRegistry(withKeys, createProviders(withKeys)).model("sdxl");
    if (!studio || !model) throw new Error("the upstream is not configured");
    await studio.generate({
      model,
      prompt: "a key from a secret",
      n: 1,
      size: undefined,
      outputFormat: "png",
      seed: "s",
      signal: new AbortController().signal,
    });
    expect(openai.requests.at(-1)?.headers.authorization).toBe(`Bearer ${upstreamKey}`);
    expect(await withUpstreamKeys(stack.config({}), "worker")).toEqual(stack.config({}));
  });

  it("read each pooled key's value from its own secret for the worker; a secret without a key fails cold start", async () => {
    const projectB = "sk-proj-b-from-its-own-secret-0123456789";
    sm.secrets.set(secretArn("project-b"), projectB);
    const pools = (b: string) =>
      JSON.stringify({
        openai: [
          { name: "project-a", images_per_minute: 50 },
          { name: "project-b", images_per_minute: 50, api_key_secret_arn: secretArn(b) },
        ],
      });
    const config = stack.config({
      AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.endpoint,
      PROVIDER_RATE_LIMITS: pools("project-b"),
    });
    expect(config.PROVIDER_RATE_LIMITS?.openai?.[1]?.api_key).toBeUndefined();
    const reads = sm.reads.length;
    const withKeys = await withPooledKeys(config, "worker");
    expect(sm.reads.slice(reads)).toEqual([secretArn("project-b")]);
    expect(withKeys.PROVIDER_RATE_LIMITS?.openai?.map((k) => k.api_key)).toEqual([undefined, projectB]);
    // Masked in logs like every other key.
    expect(configSecrets(withKeys)).toContain(projectB);
    // Nothing pooled with a secret: nothing read.
    expect(await withPooledKeys(stack.config({}), "worker")).toEqual(stack.config({}));

    sm.secrets.set(secretArn("project-unset"), unsetSecretValue);
    const err = await withPooledKeys(
      stack.config({
        AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.endpoint,
        PROVIDER_RATE_LIMITS: pools("project-unset"),
      }),
      "worker",
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(String(err)).toMatch(/project-b.*holds no key yet/);
    expect(() =>
      stack.config({
        PROJECT_B_KEY: "x",
        PROVIDER_RATE_LIMITS: JSON.stringify({
          openai: [
            {
              name: "b",
              images_per_minute: 5,
              api_key_env: "PROJECT_B_KEY",
              api_key_secret_arn: secretArn("b"),
            },
          ],
        }),
      }),
    ).toThrow(/api_key_env and api_key_secret_arn/);
  });

  it("read the admin key from its secret once; it then opens /admin, and a malformed secret fails cold start", async () => {
    const adminKey = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v2W3x4";
    sm.secrets.set(secretArn("admin"), adminKey);
    const config = stack.config({
      ADMIN_API_KEY_SECRET_ARN: secretArn("admin"),
      AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.endpoint,
    });
    expect(config.ADMIN_API_KEY).toBeUndefined();
    const reads = sm.reads.length;
    const withKey = await withAdminKey(config, "api");
    expect(sm.reads.length - reads).toBe(1);
    expect(withKey.ADMIN_API_KEY).toBe(adminKey);
    const api = checkedApi(apiFunction(withKey, stack.emulators.clients).handler);
    expect((await api(get("/admin/keys?tenant=acme", adminKey), context())).statusCode).toBe(200);
    expect((await api(get("/admin/keys?tenant=acme", `${adminKey}x`), context())).statusCode).toBe(401);
    // Without the secret the admin API stays closed, whatever is sent.
    const closed = checkedApi(apiFunction(config, stack.emulators.clients).handler);
    expect((await closed(get("/admin/keys?tenant=acme", adminKey), context())).statusCode).toBe(401);

    sm.secrets.set(secretArn("admin-short"), "short");
    const err = await withAdminKey(
      stack.config({
        ADMIN_API_KEY_SECRET_ARN: secretArn("admin-short"),
        AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.endpoint,
      }),
      "api",
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretReadError);
    expect((err as Error).message).not.toContain('short"');
    expect(() =>
      stack.config({ ADMIN_API_KEY: adminKey, ADMIN_API_KEY_SECRET_ARN: secretArn("admin") }),
    ).toThrow(ConfigError);
  });

  it("name the same providers for the API as the worker builds", () => {
    for (const overrides of [{}, { OPENAI_API_KEY: providerKey }]) {
      const config = stack.config(overrides);
      expect(createProviders(config).map((p) => p.name)).toEqual(enabledProviders(config));
    }
  });
});
