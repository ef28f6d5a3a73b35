import { createHash } from "node:crypto";
import OpenAI, { toFile } from "openai";
import sharp from "sharp";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { responseSchemas } from "../../lib/api/reference/responses.ts";
import { type FakeBedrock, startFakeBedrock } from "../support/fake-bedrock.ts";
import { type FakeOpenAI, openaiError, partialColours, startFakeOpenAI } from "../support/fake-openai.ts";
import { httpClient } from "../support/http.ts";
import { at, picture, pixels } from "../support/images.ts";
import { assertImageStreamEvent, parseSse } from "../support/openai-schemas.ts";
import { type ServiceStack, startServiceStack } from "../support/service-stack.ts";

// stream: true with partial_images, through the queue: the official openai SDK against the API, the worker
// streaming from a fake OpenAI that speaks real SSE (or from the placeholder, or Bedrock, which cannot stream).
// `live` is the API as the Function URL serves it (RESPONSE_STREAM); `service.url` as the HTTP API does.
// Every event is checked against OpenAI's own event schemas.

const adminKey = "sk-admin-streaming-0123456789abcdefghij";
const core = "stability.stable-image-core-v1:1";
const placeholderPaceMs = 80;

let service: ServiceStack;
let openai: FakeOpenAI;
let bedrock: FakeBedrock;
let live: string;

const sdk = (url: string, key = service.keys.acme) =>
  new OpenAI({ apiKey: key, baseURL: `${url}/v1`, maxRetries: 0 });
const api = () => httpClient(service.url, service.keys.acme);
const admin = () => httpClient(service.url, adminKey);

interface Received {
  type: string;
  at: number;
  event: Record<string, unknown> & { type: string; b64_json: string };
}

/** Reads a stream of the SDK to its end, checking each event against OpenAI's schema, with when it came. */
async function receive(stream: AsyncIterable<unknown>, onEvent?: (e: Received) => void): Promise<Received[]> {
  const out: Received[] = [];
  for await (const event of stream) {
    assertImageStreamEvent(event);
    const e = event as Received["event"];
    const received = { type: e.type, at: Date.now(), event: e };
    out.push(received);
    onEvent?.(received);
  }
  return out;
}

/** The colour at an image's centre, as #rrggbb. */
async function centre(b64: string): Promise<string> {
  const p = await pixels(Buffer.from(b64, "base64"));
  const [r, g, b] = at(p, Math.floor(p.width / 2), Math.floor(p.height / 2));
  return `#${[r, g, b].map((v) => (v ?? 0).toString(16).padStart(2, "0")).join("")}`;
}

const sha256 = (b64: string) => createHash("sha256").update(Buffer.from(b64, "base64")).digest("hex");

async function finished(id: string, key = service.keys.acme) {
  for (let i = 0; i < 200; i++) {
    const job = await httpClient(service.url, key).get(`/v1/jobs/${id}`);
    if (["succeeded", "failed", "canceled"].includes(job.body.status)) return job.body;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`job ${id} did not finish`);
}

beforeAll(async () => {
  [openai, bedrock] = await Promise.all([startFakeOpenAI(), startFakeBedrock()]);
  service = await startServiceStack({
    tenants: ["acme", "metered"],
    env: {
      ADMIN_API_KEY: adminKey,
      OPENAI_API_KEY: "sk-openai-streaming-0123456789",
      OPENAI_BASE_URL: openai.baseURL,
      BEDROCK_REGION: "us-east-1",
      AWS_ENDPOINT_URL_BEDROCK_RUNTIME: bedrock.endpoint,
      OPENAI_COMPATIBLE_UPSTREAMS: JSON.stringify([
        {
          name: "studio",
          base_url: openai.baseURL,
          models: [{ id: "studio-xl", max_images_per_call: 4, price_per_image_usd: 0.002 }],
        },
      ]),
      PLACEHOLDER_PARTIAL_INTERVAL_MS: String(placeholderPaceMs),
      PROVIDER_MAX_RETRIES: "1",
    },
  });
  live = await service.serveStreamingApi();
});
afterAll(async () => {
  await service?.close();
  await Promise.all([openai?.close(), bedrock?.close()]);
});
beforeEach(() => openai.setLatency(0));

describe("stream: true with the openai SDK", () => {
  it("relays each partial image as the provider makes it, then the image, stored as without streaming", async () => {
    openai.setLatency(1200);
    const { data: stream, response } = await sdk(live)
      .images.generate({
        model: "gpt-image-2",
        prompt: "a lighthouse at dawn",
        size: "1024x1024",
        stream: true,
        partial_images: 2,
      })
      .withResponse();
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const events = await receive(stream);
    expect(events.map((e) => [e.type, e.event.partial_image_index])).toEqual([
      ["image_generation.partial_image", 0],
      ["image_generation.partial_image", 1],
      ["image_generation.completed", undefined],
    ]);
    // The provider spaced its events 400 ms apart: the client got each preview before the provider had even
    // sent the next event, not at the end.
    const [first, second, completed] = events as [Received, Received, Received];
    const provided = openai.requests.at(-1)?.events.map((e) => e.at) ?? [];
    expect(provided).toHaveLength(3);
    expect(first.at).toBeLessThan(provided[1] as number);
    expect(second.at).toBeLessThan(provided[2] as number);
    // The previews are the provider's own (darker renderings), the image is the image.
    expect(await centre(first.event.b64_json)).toBe(partialColours[0]);
    expect(await centre(second.event.b64_json)).toBe(partialColours[1]);
    expect(await centre(completed.event.b64_json)).toBe("#3366cc");
    expect(completed.event).toMatchObject({
      size: "1024x1024",
      output_format: "png",
      usage: { input_tokens: 10, output_tokens: 100, total_tokens: 110 },
    });
    // The worker asked the provider to stream, and stored the image exactly as a plain request does.
    expect(openai.requests.at(-1)?.json).toMatchObject({ stream: true, partial_images: 2 });
    const job = await finished(response.headers.get("x-job-id") ?? "");
    expect(job).toMatchObject({ status: "succeeded", usage: { images: 1 } });
    expect(job.input.partial_images).toBe(2);
    expect(job.output.images).toHaveLength(1);
    expect(job.output.images[0].sha256).toBe(sha256(completed.event.b64_json));
  });

  it("sends OpenAI's wire format: event: <type>, then data: <json>", async () => {
    const res = await fetch(`${live}/v1/images/generations`, {
      method: "POST",
      headers: { authorization: `Bearer ${service.keys.acme}`, "content-type": "application/json" },
      body: JSON.stringify({ prompt: "wire", stream: true, partial_images: 1 }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-cache");
    const text = await res.text();
    const frames = parseSse(text);
    expect(frames.map((f) => f.event)).toEqual([
      "image_generation.partial_image",
      "image_generation.completed",
    ]);
    for (const frame of frames) assertImageStreamEvent(JSON.parse(frame.data), frame.event);
    expect(text).toMatch(/^event: image_generation\.partial_image\ndata: \{/);
  });

  it("streams an edit as image_edit events", async () => {
    const image = await toFile(await picture(512, 512), "photo.png", { type: "image/png" });
    const stream = await sdk(live).images.edit({
      model: "gpt-image-2",
      image,
      prompt: "add a red scarf",
      stream: true,
      partial_images: 1,
    });
    const events = await receive(stream);
    expect(events.map((e) => e.type)).toEqual(["image_edit.partial_image", "image_edit.completed"]);
    const sent = openai.requests.at(-1)?.form?.fields;
    expect(sent?.stream).toEqual(["true"]);
    expect(sent?.partial_images).toEqual(["1"]);
    expect(await centre((events[0] as Received).event.b64_json)).toBe(partialColours[0]);
  });

  it("sends the same events behind the HTTP API, all at once when the job ends", async () => {
    openai.setLatency(600);
    const { data: stream, response } = await sdk(service.url)
      .images.generate({ prompt: "buffered", stream: true, partial_images: 2 })
      .withResponse();
    const answeredAt = Date.now();
    const events = await receive(stream);
    expect(events.map((e) => e.type)).toEqual([
      "image_generation.partial_image",
      "image_generation.partial_image",
      "image_generation.completed",
    ]);
    const job = await finished(response.headers.get("x-job-id") ?? "");
    // Nothing came before the job had finished: the answer is the whole stream.
    expect(answeredAt).toBeGreaterThanOrEqual(Date.parse(job.finished_at));
    expect((events.at(-1) as Received).at - (events[0] as Received).at).toBeLessThan(150);
  });

  it("streams the placeholder's previews, coarse to fine, at its configured pace", async () => {
    const events = await receive(
      await sdk(live).images.generate({
        model: "placeholder",
        prompt: "offline",
        size: "512x512",
        stream: true,
        partial_images: 3,
      }),
    );
    expect(events.map((e) => e.event.partial_image_index ?? "done")).toEqual([0, 1, 2, "done"]);
    for (let i = 1; i < events.length; i++) {
      expect((events[i] as Received).at - (events[i - 1] as Received).at).toBeGreaterThan(
        placeholderPaceMs * 0.6,
      );
    }
    // Each preview is closer to the image than the one before: the same picture, refined.
    const final = await pixels(Buffer.from((events[3] as Received).event.b64_json, "base64"));
    const distance = async (b64: string) => {
      const p = await pixels(Buffer.from(b64, "base64"));
      expect([p.width, p.height]).toEqual([final.width, final.height]);
      let sum = 0;
      for (let i = 0; i < p.data.length; i++)
        sum += Math.abs((p.data[i] as number) - (final.data[i] as number));
      return sum / p.data.length;
    };
    const d = await Promise.all(events.slice(0, 3).map((e) => distance(e.event.b64_json)));
    expect(d[0]).toBeGreaterThan(d[1] as number);
    expect(d[1]).toBeGreaterThan(d[2] as number);
    expect(d[2]).toBeGreaterThan(0);
  });

  it("sends only the completed event for a provider that cannot stream (Bedrock)", async () => {
    const events = await receive(
      await sdk(live).images.generate({ model: core, prompt: "a fox", stream: true, partial_images: 2 }),
    );
    expect(events.map((e) => e.type)).toEqual(["image_generation.completed"]);
  });

  it("streams each image's previews, then each image, for n = 2", async () => {
    const events = await receive(
      await sdk(live).images.generate({ prompt: "two", n: 2, stream: true, partial_images: 1 }),
    );
    expect(events.map((e) => e.type).sort()).toEqual([
      "image_generation.completed",
      "image_generation.completed",
      "image_generation.partial_image",
      "image_generation.partial_image",
    ]);
    expect(events.slice(-2).map((e) => e.type)).toEqual([
      "image_generation.completed",
      "image_generation.completed",
    ]);
  });

  it("raises a job that fails as OpenAI's error event", async () => {
    openai.script(
      openaiError(400, "Your request was rejected by the safety system.", "content_policy_violation"),
    );
    const stream = await sdk(live).images.generate({ prompt: "refused", stream: true, partial_images: 1 });
    const error = await receive(stream).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error).toMatchObject({ code: "content_policy_violation", type: "invalid_request_error" });
  });

  it("ends a stream that outlives the wait with job_pending; the job goes on", async () => {
    const short = await service.serveStreamingApi({ SYNC_WAIT_MS: "300" });
    openai.setLatency(900);
    const { data: stream, response } = await sdk(short)
      .images.generate({ prompt: "slow", stream: true, partial_images: 2 })
      .withResponse();
    const error = await receive(stream).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "job_pending" });
    expect(await finished(response.headers.get("x-job-id") ?? "")).toMatchObject({ status: "succeeded" });
  });
});

describe("failure modes", () => {
  it("a client that disconnects mid-stream leaves the job running and its result stored", async () => {
    openai.setLatency(900);
    const { data: stream, response } = await sdk(live)
      .images.generate({ prompt: "left early", stream: true, partial_images: 2 })
      .withResponse();
    const id = response.headers.get("x-job-id") ?? "";
    for await (const event of stream) {
      expect(event.type).toBe("image_generation.partial_image");
      break; // the SDK aborts the request
    }
    expect((await api().get(`/v1/jobs/${id}`)).body.status).toBe("running");
    const job = await finished(id);
    expect(job.status).toBe("succeeded");
    const stored = Buffer.from(await (await fetch(job.output.images[0].url)).arrayBuffer());
    expect(await centre(stored.toString("base64"))).toBe("#3366cc");
  });

  it("a provider stream that breaks part-way is retried like any other fault, each preview sent once", async () => {
    openai.breakNextStream(1);
    const calls = openai.requests.length;
    const { data: stream, response } = await sdk(live)
      .images.generate({ prompt: "broken stream", stream: true, partial_images: 2 })
      .withResponse();
    const events = await receive(stream);
    expect(openai.requests.length - calls).toBe(2);
    expect(openai.requests.at(-2)?.events.map((e) => e.type)).toEqual(["image_generation.partial_image"]);
    expect(events.map((e) => [e.type, e.event.partial_image_index])).toEqual([
      ["image_generation.partial_image", 0],
      ["image_generation.partial_image", 1],
      ["image_generation.completed", undefined],
    ]);
    expect(await finished(response.headers.get("x-job-id") ?? "")).toMatchObject({ status: "succeeded" });
  });

  it("never charges partial images as images: usage, cost, the daily allowance", async () => {
    const created = await admin().post("/admin/keys", {
      tenant: "metered",
      name: "two a day",
      limits: { images_per_day: 2 },
    });
    expect(created.status).toBe(201);
    const key = created.body.key as string;
    const { data: stream, response } = await sdk(live, key)
      .images.generate({ model: "studio-xl", prompt: "metered", n: 2, stream: true, partial_images: 3 })
      .withResponse();
    const events = await receive(stream);
    expect(events.filter((e) => e.type.endsWith("partial_image"))).toHaveLength(6);
    const job = await finished(response.headers.get("x-job-id") ?? "", key);
    expect(job.usage.images).toBe(2);
    expect(job.cost_usd).toBeCloseTo(0.004, 9);
    const usage = await admin().get("/admin/usage?tenant=metered");
    expect(usage.body.total).toMatchObject({ jobs: 1, images: 2 });
    // Two images used the day's two; eight previews used none of it, so one more image is over.
    const over = await httpClient(service.url, key).post("/v1/images/generations", { prompt: "one more" });
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe("daily_image_limit_exceeded");
  });
});

describe("async jobs: partial_images and GET /v1/jobs/{id}/events", () => {
  const jobEvent = responseSchemas.JobEvent;

  async function events(url: string, id: string, headers: Record<string, string> = {}, query = "") {
    const res = await fetch(`${url}/v1/jobs/${id}/events${query}`, {
      headers: { authorization: `Bearer ${service.keys.acme}`, ...headers },
    });
    const frames: { event?: string; id?: string; data: string; at: number }[] = [];
    const reader = res.body?.getReader();
    let text = "";
    for (;;) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) break;
      text += Buffer.from(chunk.value).toString("utf8");
      const done = text.lastIndexOf("\n\n");
      if (done < 0) continue;
      for (const f of parseSse(text.slice(0, done + 2))) frames.push({ ...f, at: Date.now() });
      text = text.slice(done + 2);
    }
    return { status: res.status, type: res.headers.get("content-type"), frames };
  }

  it("streams the job's status, its partial images as URLs and its end, resumable with Last-Event-ID", async () => {
    openai.setLatency(1200);
    const submitted = await api().post("/v1/jobs", {
      operation: "generate",
      input: { prompt: "followed", partial_images: 2 },
    });
    expect(submitted.status).toBe(202);
    expect(submitted.body.input.partial_images).toBe(2);
    const id = submitted.body.id as string;
    const all = await events(live, id);
    expect(all.status).toBe(200);
    expect(all.type).toMatch(/^text\/event-stream/);
    expect(all.frames.map((f) => [f.id, f.event])).toEqual([
      ["0", "job.queued"],
      ["1", "job.running"],
      ["2", "job.partial_image"],
      ["3", "job.partial_image"],
      ["4", "job.succeeded"],
    ]);
    const data = all.frames.map((f) => JSON.parse(f.data));
    for (const d of data) expect(jobEvent.safeParse(d).success).toBe(true);
    expect(data[1]).toEqual({ job_id: id, status: "running", attempt: 1 });
    expect(data[4]).toMatchObject({ id, status: "succeeded", output: { images: [{ index: 0 }] } });
    // The previews, live (each came before the provider sent its next event) and as URLs to the stored images.
    const provided = openai.requests.at(-1)?.events.map((e) => e.at) ?? [];
    expect(all.frames[2]?.at).toBeLessThan(provided[1] as number);
    expect(all.frames[3]?.at).toBeLessThan(provided[2] as number);
    for (const [i, d] of [data[2], data[3]].entries()) {
      expect(d).toMatchObject({
        job_id: id,
        image_index: 0,
        partial_image_index: i,
        width: 1024,
        format: "png",
      });
      const bytes = Buffer.from(await (await fetch(d.url)).arrayBuffer());
      expect(await centre(bytes.toString("base64"))).toBe(partialColours[i]);
    }
    // A reconnect with Last-Event-ID gets what came after it; after the end, nothing more (204 stops EventSource).
    const resumed = await events(live, id, { "last-event-id": "2" });
    expect(resumed.frames.map((f) => f.id)).toEqual(["3", "4"]);
    const byQuery = await events(service.url, id, {}, "?last_event_id=3");
    expect(byQuery.frames.map((f) => f.event)).toEqual(["job.succeeded"]);
    expect((await events(live, id, { "last-event-id": "4" })).status).toBe(204);
    const bad = await api().get(`/v1/jobs/${id}/events`, { "last-event-id": "x" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe("Last-Event-ID");
  });

  it("refuses stream: true in a job's input; jobs are followed with their events", async () => {
    const res = await api().post("/v1/jobs", { operation: "generate", input: { prompt: "x", stream: true } });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe("input.stream");
    const other = await httpClient(service.url, service.keys.metered).get(
      `/v1/jobs/${(await api().post("/v1/jobs", { operation: "generate", input: { prompt: "mine" } })).body.id}/events`,
    );
    expect(other.status).toBe(404);
  });
});

describe("Idempotency-Key on a streamed request", () => {
  it("replays the events it sent, and makes no second job", async () => {
    const send = () =>
      fetch(`${live}/v1/images/generations`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${service.keys.acme}`,
          "content-type": "application/json",
          "idempotency-key": "stream-once",
        },
        body: JSON.stringify({ prompt: "once", stream: true, partial_images: 1 }),
      });
    const first = await send();
    const text = await first.text();
    const calls = openai.requests.length;
    const again = await send();
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.headers.get("x-job-id")).toBe(first.headers.get("x-job-id"));
    expect(again.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(await again.text()).toBe(text);
    expect(openai.requests.length).toBe(calls);
  });
});

it("streams previews and the image in the requested output_format", async () => {
  // A webp request streams webp previews (the provider's, conformed if it sent another format).
  const events = await receive(
    await sdk(live).images.generate({
      prompt: "webp",
      output_format: "webp",
      stream: true,
      partial_images: 1,
    }),
  );
  for (const e of events) {
    expect(e.event.output_format).toBe("webp");
    expect((await sharp(Buffer.from(e.event.b64_json, "base64")).metadata()).format).toBe("webp");
  }
});
