import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../lib/config.ts";

const required = {
  JOBS_TABLE: "jobs",
  IMAGES_BUCKET: "images",
  JOBS_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs",
  WEBHOOKS_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs-webhooks",
};

describe("config", () => {
  it("fills defaults and coerces numbers and booleans", () => {
    const c = loadConfig({ ...required, SYNC_WAIT_MS: "1500", ALLOW_PRIVATE_URLS: "true" });
    expect(c).toMatchObject({
      SYNC_WAIT_MS: 1500,
      ALLOW_PRIVATE_URLS: true,
      URL_TTL_SECONDS: 3600,
      AWS_REGION: "us-east-1",
    });
    expect(c.OPENAI_API_KEY).toBeUndefined();
  });

  it("fails fast, naming every bad variable", () => {
    const load = () =>
      loadConfig({ ...required, JOBS_TABLE: undefined, SYNC_WAIT_MS: "soon", LOG_LEVEL: "loud" });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/JOBS_TABLE is required.*SYNC_WAIT_MS.*LOG_LEVEL must be one of/);
  });

  it("answers b64_json by default, as OpenAI does, unless DEFAULT_RESPONSE_FORMAT says url", () => {
    expect(loadConfig(required).DEFAULT_RESPONSE_FORMAT).toBe("b64_json");
    expect(loadConfig({ ...required, DEFAULT_RESPONSE_FORMAT: "url" }).DEFAULT_RESPONSE_FORMAT).toBe("url");
    expect(() => loadConfig({ ...required, DEFAULT_RESPONSE_FORMAT: "png" })).toThrow(
      /DEFAULT_RESPONSE_FORMAT/,
    );
  });

  it("treats empty strings as unset", () => {
    expect(loadConfig({ ...required, OPENAI_API_KEY: "" }).OPENAI_API_KEY).toBeUndefined();
  });
});
