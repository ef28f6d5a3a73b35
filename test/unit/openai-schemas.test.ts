import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "../../lib/api/reference/document.ts";
import { httpClient } from "../support/http.ts";
import { openaiClient } from "../support/openai.ts";
import {
  assertImageStreamEvent,
  assertImagesResponse,
  openaiSpecCommit,
  schemaProblems,
} from "../support/openai-schemas.ts";

// The conformance checks themselves: OpenAI's vendored schemas accept OpenAI's own examples, refuse what OpenAI
// would never send, and the helpers every suite's Images calls go through fail on a drift.

const fixture = JSON.parse(
  readFileSync(new URL("../fixtures/openai-images/openai-images.json", import.meta.url), "utf8"),
) as {
  source: Record<string, string>;
  components: { schemas: Record<string, { "x-oaiMeta"?: { example: string } }> };
};

const example = (name: string) =>
  JSON.parse(fixture.components.schemas[name]?.["x-oaiMeta"]?.example ?? "null");

const usage = {
  input_tokens: 50,
  output_tokens: 50,
  total_tokens: 100,
  input_tokens_details: { text_tokens: 10, image_tokens: 40 },
};

describe("the vendored schemas", () => {
  it("name their source commit and licence", () => {
    expect(fixture.source).toMatchObject({
      repository: "https://github.com/openai/openai-openapi",
      commit: "f85dbe223d40e1a31cba812ab2d755c7e98a92a3",
      license: "MIT",
    });
    expect(openaiSpecCommit).toBe(fixture.source.commit);
    const licence = readFileSync(new URL("../fixtures/openai-images/LICENSE", import.meta.url), "utf8");
    expect(licence).toContain("Copyright (c) OpenAI");
    const readme = readFileSync(new URL("../fixtures/openai-images/README.md", import.meta.url), "utf8");
    expect(readme).toContain(fixture.source.commit);
  });

  it("accept OpenAI's own examples of a response and of every stream event", () => {
    expect(() => assertImagesResponse(example("ImagesResponse"))).not.toThrow();
    for (const name of [
      "ImageGenPartialImageEvent",
      "ImageGenCompletedEvent",
      "ImageEditPartialImageEvent",
      "ImageEditCompletedEvent",
    ]) {
      const event = example(name);
      expect(() => assertImageStreamEvent(event, event.type)).not.toThrow();
    }
  });

  it("relax only what predates today's models: any WIDTHxHEIGHT, and the xhigh and max qualities", () => {
    const base = { created: 1, data: [{ b64_json: "AAAA" }], output_format: "png", usage };
    expect(schemaProblems("ImagesResponse", { ...base, size: "1536x864", quality: "xhigh" })).toEqual([]);
    expect(schemaProblems("ImagesResponse", { ...base, quality: "max" })).toEqual([]);
    // Still refused: "auto" where a resolved value belongs, unknown values, and usage without its breakdown.
    expect(schemaProblems("ImagesResponse", { ...base, size: "auto" })).not.toEqual([]);
    expect(schemaProblems("ImagesResponse", { ...base, size: "big" })).not.toEqual([]);
    expect(schemaProblems("ImagesResponse", { ...base, background: "auto" })).not.toEqual([]);
    expect(schemaProblems("ImagesResponse", { ...base, quality: "ultra" })).not.toEqual([]);
    const { input_tokens_details: _, ...bare } = usage;
    expect(schemaProblems("ImagesResponse", { ...base, usage: bare })).not.toEqual([]);
    expect(schemaProblems("ImagesResponse", { data: [] })).not.toEqual([]);
    // OpenAI's request schemas take null for their optional parameters.
    expect(schemaProblems("CreateImageRequest", { prompt: "x", n: null, size: null, model: null })).toEqual(
      [],
    );
  });

  it("check stream events by their type, against the SSE event name", () => {
    const event = { ...example("ImageGenPartialImageEvent"), size: "1536x864" };
    expect(() => assertImageStreamEvent(event, "image_generation.partial_image")).not.toThrow();
    expect(() => assertImageStreamEvent(event, "image_generation.completed")).toThrow(
      /event: image_generation.completed/,
    );
    expect(() => assertImageStreamEvent({ ...event, partial_image_index: undefined })).toThrow(
      /partial_image_index/,
    );
    expect(() => assertImageStreamEvent({ ...event, type: "image_generation.done" })).toThrow(
      /Not an Images/,
    );
  });
});

describe("the helpers every suite's Images calls go through", () => {
  let server: Server;
  let url: string;
  let answer: { type: string; body: string; status?: number };

  beforeAll(async () => {
    // The raw client checks answers against the service's /openapi.json too: an empty document leaves this
    // server's answers to the check under test.
    const doc = JSON.stringify(buildOpenApiDocument([]));
    server = createServer((req, res) =>
      req.url === "/openapi.json"
        ? res.writeHead(200, { "content-type": "application/json" }).end(doc)
        : res.writeHead(answer.status ?? 200, { "content-type": answer.type }).end(answer.body),
    );
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const json = (body: unknown) => ({ type: "application/json", body: JSON.stringify(body) });
  const good = { created: 1, data: [{ b64_json: "AAAA" }], output_format: "png", background: "opaque" };

  it("the SDK's fetch: a drift in a response fails the call", async () => {
    const client = openaiClient(`${url}/v1`, "sk-test");
    answer = json(good);
    await expect(client.images.generate({ prompt: "x" })).resolves.toMatchObject({ created: 1 });
    answer = json({ ...good, background: "auto" });
    const err = await client.images.generate({ prompt: "x" }).catch((e: unknown) => e);
    expect(String((err as Error).cause)).toMatch(
      /does not conform to OpenAI's ImagesResponse.*\n.*background/,
    );
  });

  it("the SDK's fetch: a drift in a stream fails where the event is read", async () => {
    const client = openaiClient(`${url}/v1`, "sk-test");
    const partial = example("ImageGenPartialImageEvent");
    const completed = example("ImageGenCompletedEvent");
    const sse = (events: unknown[]) => ({
      type: "text/event-stream",
      body: events
        .map((e) => `event: ${(e as { type: string }).type}\ndata: ${JSON.stringify(e)}\n\n`)
        .join(""),
    });
    answer = sse([partial, completed]);
    const types: string[] = [];
    for await (const event of await client.images.generate({ prompt: "x", stream: true }))
      types.push(event.type);
    expect(types).toEqual(["image_generation.partial_image", "image_generation.completed"]);
    answer = sse([partial, { ...completed, usage: undefined }]);
    const read = async () => {
      for await (const _ of await client.images.generate({ prompt: "x", stream: true })) {
        // Reading is what fails.
      }
    };
    await expect(read()).rejects.toThrow(/image_generation.completed event does not conform.*\n.*usage/);
  });

  it("the raw HTTP client: a drift fails the request, errors included", async () => {
    const api = httpClient(url, "sk-test");
    answer = json(good);
    expect((await api.post("/v1/images/edits", {})).status).toBe(200);
    answer = json({ ...good, quality: "auto" });
    await expect(api.post("/v1/images/variations", {})).rejects.toThrow(/ImagesResponse/);
    answer = { ...json({ error: { message: "x", type: "invalid_request_error" } }), status: 400 };
    await expect(api.post("/v1/images/generations", {})).rejects.toThrow(/ErrorResponse/);
    // Other paths are not OpenAI's Images endpoints.
    answer = json({ data: "anything" });
    expect((await api.get("/v1/jobs")).status).toBe(200);
  });
});
