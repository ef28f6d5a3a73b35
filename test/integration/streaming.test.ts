import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeOpenAI, startFakeOpenAI } from "../support/fake-openai.ts";
import { type ServiceStack, startServiceStack } from "../support/service-stack.ts";

let service: ServiceStack;
let openai: FakeOpenAI;
let live: string;

beforeAll(async () => {
  openai = await startFakeOpenAI({ latencyMs: 300 });
  service = await startServiceStack({
    env: {
      OPENAI_API_KEY: "sk-openai-streaming-0123456789",
      OPENAI_BASE_URL: openai.baseURL,
      PLACEHOLDER_PARTIAL_INTERVAL_MS: "50",
    },
  });
  live = await service.serveStreamingApi();
});
afterAll(async () => {
  await service?.close();
  await openai?.close();
});

describe("smoke", () => {
  it("streams", async () => {
    const client = new OpenAI({ apiKey: service.keys.acme, baseURL: `${live}/v1`, maxRetries: 0 });
    const stream = await client.images.generate({
      prompt: "a fox",
      model: "gpt-image-2",
      stream: true,
      partial_images: 2,
      size: "1024x1024",
    });
    const seen: string[] = [];
    const t0 = Date.now();
    for await (const event of stream)
      seen.push(
        `${event.type} ${Date.now() - t0} ${"partial_image_index" in event ? event.partial_image_index : ""} ${event.b64_json.length}`,
      );
    console.log(seen);
    const buffered = new OpenAI({ apiKey: service.keys.acme, baseURL: `${service.url}/v1`, maxRetries: 0 });
    const s2 = await buffered.images.generate({
      prompt: "a fox",
      model: "gpt-image-2",
      stream: true,
      partial_images: 1,
    });
    const seen2: string[] = [];
    for await (const event of s2) seen2.push(`${event.type} ${Date.now() - t0}`);
    console.log(seen2);
    expect(seen.length).toBe(3);
  });
});
