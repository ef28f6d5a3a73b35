import { createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ConfigError } from "../../lib/config.ts";
import { withCdnKey } from "../../lib/runtime.ts";
import {
  type FakeSecretsManager,
  secretArn,
  startFakeSecretsManager,
} from "../support/fake-secrets-manager.ts";
import { httpClient } from "../support/http.ts";
import { type ServiceStack, startServiceStack } from "../support/service-stack.ts";

// Issue 16 §4: with a CloudFront distribution configured, generated images' URLs are CloudFront signed URLs
// (a canned policy signed with the distribution's key pair) instead of presigned S3 URLs. CloudFront checks them
// with the public key; this test checks them the same way. The private key comes from Secrets Manager in AWS.

const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const privatePem = privateKey.export({ type: "pkcs1", format: "pem" }).toString().trim();
const domain = "d111111abcdef8.cloudfront.net";
const keyPairId = "K2JCJMDEHXQW5F";

/** CloudFront's URL-safe base64: + → -, = → _, / → ~. */
const fromCloudFrontBase64 = (s: string) =>
  Buffer.from(s.replaceAll("-", "+").replaceAll("_", "=").replaceAll("~", "/"), "base64");

/** Whether CloudFront would accept `signed` with the public key: its canned policy, recomputed and verified. */
function cloudFrontAccepts(signed: string, key = publicKey): boolean {
  const url = new URL(signed);
  const expires = Number(url.searchParams.get("Expires"));
  const resource = `${url.origin}${url.pathname}`;
  const policy = JSON.stringify({
    Statement: [{ Resource: resource, Condition: { DateLessThan: { "AWS:EpochTime": expires } } }],
  });
  return verify(
    "RSA-SHA1",
    Buffer.from(policy),
    key,
    fromCloudFrontBase64(url.searchParams.get("Signature") ?? ""),
  );
}

let cdn: ServiceStack;
let plain: ServiceStack;
let sm: FakeSecretsManager;

beforeAll(async () => {
  sm = await startFakeSecretsManager();
  // Lambda's role credentials arrive in the environment; the Secrets Manager client finds them there.
  vi.stubEnv("AWS_ACCESS_KEY_ID", "test");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "test");
  cdn = await startServiceStack({
    tenants: ["acme"],
    env: { IMAGE_CDN_DOMAIN: domain, IMAGE_CDN_KEY_PAIR_ID: keyPairId, IMAGE_CDN_PRIVATE_KEY: privatePem },
  });
  plain = await startServiceStack({ tenants: ["acme"] });
});
afterAll(async () => {
  await cdn.close();
  await plain.close();
  await sm.close();
  vi.unstubAllEnvs();
});

const generate = (s: ServiceStack) =>
  httpClient(s.url, s.keys.acme).post("/v1/images/generations", {
    prompt: "a lighthouse at dawn",
    n: 2,
    size: "1024x1024",
    response_format: "url",
  });

describe("CloudFront signed URLs for generated images", () => {
  it("hands out URLs on the distribution, signed for CloudFront with the key pair, valid as long as presigned ones", async () => {
    const before = Math.floor(Date.now() / 1000);
    const res = await generate(cdn);
    expect(res.status).toBe(200);
    const urls = (res.body.data as { url: string }[]).map((d) => d.url);
    expect(urls).toHaveLength(2);
    for (const u of urls) {
      const url = new URL(u);
      expect(url.host).toBe(domain);
      expect(url.protocol).toBe("https:");
      expect(url.pathname).toMatch(/^\/tenants\/acme\/jobs\/job_[0-9a-z]{26}\/output-\d\.png$/);
      expect(url.searchParams.get("Key-Pair-Id")).toBe(keyPairId);
      expect(Number(url.searchParams.get("Expires")) - before).toBeGreaterThanOrEqual(
        cdn.config.URL_TTL_SECONDS - 5,
      );
      expect(Number(url.searchParams.get("Expires")) - before).toBeLessThanOrEqual(
        cdn.config.URL_TTL_SECONDS + 5,
      );
      expect(cloudFrontAccepts(u)).toBe(true);
      // Another key's signature, or another object's path, is refused.
      const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey;
      expect(cloudFrontAccepts(u, other)).toBe(false);
      expect(cloudFrontAccepts(u.replace("output-", "outputx-"))).toBe(false);
      expect(u).not.toContain("X-Amz-Signature");
    }
  });

  it("keeps presigned S3 URLs by default", async () => {
    const res = await generate(plain);
    expect(res.status).toBe(200);
    for (const d of res.body.data as { url: string }[]) {
      expect(new URL(d.url).searchParams.get("X-Amz-Signature")).toMatch(/^[0-9a-f]{64}$/);
      expect(d.url).not.toContain(domain);
    }
  });

  it("reads the private key from its secret once at cold start, and refuses a half-configured CDN", async () => {
    sm.secrets.set(secretArn("cdn-key"), privatePem);
    const config = cdn.stack.config({
      IMAGE_CDN_DOMAIN: domain,
      IMAGE_CDN_KEY_PAIR_ID: keyPairId,
      IMAGE_CDN_PRIVATE_KEY_SECRET_ARN: secretArn("cdn-key"),
      AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.endpoint,
    });
    expect(config.IMAGE_CDN_PRIVATE_KEY).toBeUndefined();
    const reads = sm.reads.length;
    const withKey = await withCdnKey(config, "api");
    expect(sm.reads.slice(reads)).toEqual([secretArn("cdn-key")]);
    expect(withKey.IMAGE_CDN_PRIVATE_KEY).toBe(privatePem);
    expect(createPublicKey(withKey.IMAGE_CDN_PRIVATE_KEY ?? "").export({ type: "spki", format: "pem" })).toBe(
      publicKey.export({ type: "spki", format: "pem" }),
    );
    await withCdnKey(config, "webhooks");
    // Something that is not a PEM private key fails cold start, without echoing it.
    sm.secrets.set(secretArn("cdn-bad"), "not-a-key-0123456789");
    const err = await withCdnKey(
      { ...config, IMAGE_CDN_PRIVATE_KEY_SECRET_ARN: secretArn("cdn-bad") },
      "api",
    ).catch((e: unknown) => e);
    expect(String(err)).toMatch(/does not hold a PEM private key/);
    expect(String(err)).not.toContain("not-a-key");
    expect(() => cdn.stack.config({ IMAGE_CDN_DOMAIN: domain })).toThrow(ConfigError);
    expect(() => cdn.stack.config({ IMAGE_CDN_DOMAIN: domain, IMAGE_CDN_KEY_PAIR_ID: keyPairId })).toThrow(
      /IMAGE_CDN_PRIVATE_KEY/,
    );
  });
});
