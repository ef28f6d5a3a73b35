import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import sharp from "sharp";
import { assertImageStreamEvent, assertImagesResponse } from "./openai-schemas.ts";

export interface RecordedFile {
  filename: string;
  type: string;
  bytes: Buffer;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: Buffer;
  json: Record<string, unknown> | undefined;
  /** Multipart requests, read by undici's own parser (not ours): text fields and files, by field name. */
  form: { fields: Record<string, string[]>; files: Record<string, RecordedFile[]> } | undefined;
  /** Epoch ms (fractional) when the request arrived, and when its response was fully written. */
  startedAt: number;
  finishedAt?: number;
  /** When the request arrived (epoch ms), for asserting on backoff. */
  at: number;
  /** The status answered, once answered. */
  status?: number;
  /** A streamed answer's events (stream: true), each with when it was written (epoch ms, fractional). */
  events: { type: string; at: number }[];
}

async function readForm(headers: IncomingMessage["headers"], body: Buffer): Promise<RecordedRequest["form"]> {
  const type = headers["content-type"] ?? "";
  if (!type.startsWith("multipart/form-data")) return undefined;
  const data = await new Request("http://fake/", {
    method: "POST",
    headers: { "content-type": type },
    body,
  }).formData();
  const fields: Record<string, string[]> = {};
  const files: Record<string, RecordedFile[]> = {};
  for (const [name, value] of data.entries()) {
    if (typeof value === "string") {
      fields[name] = [...(fields[name] ?? []), value];
      continue;
    }
    const file = { filename: value.name, type: value.type, bytes: Buffer.from(await value.arrayBuffer()) };
    files[name] = [...(files[name] ?? []), file];
  }
  return { fields, files };
}

export interface ScriptedResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface FakeOpenAI {
  baseURL: string;
  requests: RecordedRequest[];
  /** Responses served before normal behaviour resumes, first in first out. */
  script(...responses: ScriptedResponse[]): void;
  /** The next streamed answer breaks off (its connection destroyed) after this many events. */
  breakNextStream(afterEvents: number): void;
  /** Called as each streamed event is written (benchmarks time the provider's side with this). */
  onStreamEvent(listener: (request: RecordedRequest, type: string, at: number) => void): () => void;
  /** Also applies to requests already waiting: lowering it releases them once they have waited that long. */
  setLatency(ms: number): void;
  /** Called once each response has been fully written (benchmarks time the provider's side with this). */
  onResponse(listener: (request: RecordedRequest) => void): () => void;
  /** The next batch created ends this way instead of completing (then batches complete again). */
  endNextBatch(end: Exclude<FakeBatchEnd, "completed">): void;
  /** Files and batches as the fake holds them (the Batch API). */
  batches: Map<string, FakeBatch>;
  files: Map<string, { filename: string; purpose: string; bytes: Buffer; created_at: number }>;
  close(): Promise<void>;
}

/** A batch as OpenAI's Batch object, plus when the fake lets it end. */
export interface FakeBatch {
  object: Record<string, unknown> & { id: string; status: string; input_file_id: string };
  endsAt: number;
  end: FakeBatchEnd;
}

export interface FakeOpenAIOptions {
  latencyMs?: number;
  /**
   * "flat" (default): one colour, a few KB, cheap for tests. "photo": low-amplitude noise, so a 1024×1024 PNG
   * weighs ≈1.7 MB, as a photographic gpt-image output does; benchmarks need real payload sizes.
   */
  texture?: "flat" | "photo";
  /**
   * Errors served at random instead of images, each with its own probability (0.2 of 429s, 0.05 of 500s…),
   * drawn from `random` (seed it for a reproducible run). Scripted responses come first.
   */
  faults?: { rate: number; response: ScriptedResponse }[];
  random?: () => number;
  /** Requests this accepts are held, never answered, until the client goes away (a worker killed mid-call). */
  hold?: (request: RecordedRequest) => boolean;
  /** Told of each request as it is held. */
  onHold?: (request: RecordedRequest) => void;
  /** How long a batch (POST /v1/batches) runs before it completes; 0 by default. */
  batchDelayMs?: number;
}

/** How the fake's batches end: OpenAI's terminal batch statuses. */
export type FakeBatchEnd = "completed" | "failed" | "expired" | "cancelled";

/** The image the fake answers with: a real encoded image of the given size and texture. */
export function fakeImage(
  width: number,
  height: number,
  format: "png" | "jpeg" | "webp",
  texture: FakeOpenAIOptions["texture"] = "flat",
  background = "#3366cc",
): Promise<Buffer> {
  const create = { width, height, channels: 3 as const, background };
  return sharp({
    create: texture === "photo" ? { ...create, noise: { type: "gaussian", mean: 128, sigma: 4 } } : create,
  })
    .toFormat(format)
    .toBuffer();
}

const epochMs = () => performance.timeOrigin + performance.now();

/** The colour of each partial image, from dark to the final image's: previews a test can tell apart. */
export const partialColours = ["#0a1433", "#15295c", "#23408f"] as const;

/**
 * A stand-in for api.openai.com that speaks its Images API over HTTP, so the real `openai` SDK does the talking.
 * Generations answer with real PNGs of the requested size as b64_json, as gpt-image models do.
 */
export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const requests: RecordedRequest[] = [];
  const scripted: ScriptedResponse[] = [];
  let latency = options.latencyMs ?? 0;
  const cache = new Map<string, Promise<string>>();
  const listeners = new Set<(request: RecordedRequest) => void>();
  const eventListeners = new Set<(request: RecordedRequest, type: string, at: number) => void>();
  const breaks: number[] = [];
  const waiting = new Set<{ startedAt: number; rearm(): void }>();
  /** Until `fraction` of the latency has passed since `startedAt`; a stream's events wait for their share of it. */
  const waitLatency = (startedAt: number, fraction = 1) =>
    new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const entry = {
        startedAt,
        rearm() {
          clearTimeout(timer);
          timer = setTimeout(
            () => {
              waiting.delete(entry);
              resolve();
            },
            Math.max(0, startedAt + latency * fraction - epochMs()),
          );
        },
      };
      waiting.add(entry);
      entry.rearm();
    });

  const random = options.random ?? Math.random;
  const drawFault = (): ScriptedResponse | undefined => {
    if (!options.faults?.length) return undefined;
    let r = random();
    for (const f of options.faults) {
      if (r < f.rate) return f.response;
      r -= f.rate;
    }
    return undefined;
  };

  /** OpenAI's ImagesResponse for a generation request: real images of the size and format asked for. */
  const generation = async (json: Record<string, unknown>) => {
    const size = typeof json.size === "string" && json.size !== "auto" ? json.size : "1024x1024";
    const [w, h] = size.split("x").map(Number);
    const format = (json.output_format as "png" | "jpeg" | "webp" | undefined) ?? "png";
    const n = typeof json.n === "number" ? json.n : 1;
    const key = `${w}x${h}.${format}`;
    let pending = cache.get(key);
    if (!pending) {
      // Cached as a promise so concurrent first requests share one encode.
      pending = fakeImage(w ?? 1024, h ?? 1024, format, options.texture).then((b) => b.toString("base64"));
      cache.set(key, pending);
    }
    const b64 = await pending;
    const payload = {
      created: Math.floor(Date.now() / 1000),
      data: Array.from({ length: n }, () => ({ b64_json: b64 })),
      background: "opaque",
      output_format: format,
      size: `${w}x${h}`,
      quality: resolvedQuality(json.quality),
      usage: {
        input_tokens: 10,
        output_tokens: 100 * n,
        total_tokens: 10 + 100 * n,
        input_tokens_details: { text_tokens: 10, image_tokens: 0 },
      },
    };
    return { payload, b64, w, h, format, n };
  };

  // The Batch API: files (purpose "batch"), and batches that end `batchDelayMs` after they are created.
  const files: FakeOpenAI["files"] = new Map();
  const batches: FakeOpenAI["batches"] = new Map();
  const ends: Exclude<FakeBatchEnd, "completed">[] = [];
  let ids = 0;
  const newId = (prefix: string) => `${prefix}-${Date.now().toString(36)}${(ids++).toString(36)}`;
  const addFile = (filename: string, purpose: string, bytes: Buffer) => {
    const id = newId("file");
    files.set(id, { filename, purpose, bytes, created_at: Math.floor(Date.now() / 1000) });
    return id;
  };
  const fileObject = (id: string) => {
    const f = files.get(id);
    return (
      f && {
        id,
        object: "file",
        bytes: f.bytes.length,
        created_at: f.created_at,
        filename: f.filename,
        purpose: f.purpose,
        status: "processed",
      }
    );
  };
  /** Runs a batch's requests once it is due, writing OpenAI's output and error files (JSONL). */
  const advance = async (batch: FakeBatch) => {
    const o = batch.object;
    if (["completed", "failed", "expired", "cancelled"].includes(o.status) || Date.now() < batch.endsAt)
      return;
    const now = Math.floor(Date.now() / 1000);
    if (batch.end !== "completed") {
      o.status = batch.end;
      o[`${batch.end === "cancelled" ? "cancelled" : batch.end === "failed" ? "failed" : "expired"}_at`] =
        now;
      if (batch.end === "failed")
        o.errors = { object: "list", data: [{ code: "invalid_json_line", message: "Line 1 is not valid." }] };
      return;
    }
    const input = files.get(o.input_file_id)?.bytes.toString("utf8") ?? "";
    const out: string[] = [];
    const errors: string[] = [];
    for (const line of input.split("\n").filter((l) => l.trim() !== "")) {
      const request = JSON.parse(line) as { custom_id: string; url: string; body: Record<string, unknown> };
      const answer = (status_code: number, body: unknown) =>
        JSON.stringify({
          id: newId("batch_req"),
          custom_id: request.custom_id,
          response: { status_code, request_id: newId("req"), body },
          error: null,
        });
      // A prompt with "[reject]" in it is refused, as a moderated prompt is: that line goes to the error file.
      if (String(request.body.prompt ?? "").includes("[reject]")) {
        errors.push(
          answer(
            400,
            openaiError(400, "Your request was rejected by the safety system.", "moderation_blocked").body,
          ),
        );
        continue;
      }
      const { payload } = await generation(request.body);
      assertImagesResponse(payload, "The fake OpenAI's batch answer");
      out.push(answer(200, payload));
    }
    o.status = "completed";
    o.completed_at = now;
    o.request_counts = { total: out.length + errors.length, completed: out.length, failed: errors.length };
    if (out.length > 0)
      o.output_file_id = addFile("batch_output.jsonl", "batch_output", Buffer.from(`${out.join("\n")}\n`));
    if (errors.length > 0)
      o.error_file_id = addFile("batch_errors.jsonl", "batch_output", Buffer.from(`${errors.join("\n")}\n`));
  };

  const server: Server = createServer(async (req, res) => {
    const startedAt = epochMs();
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    let json: Record<string, unknown> | undefined;
    if ((req.headers["content-type"] ?? "").includes("json")) {
      try {
        json = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
      } catch {
        json = undefined;
      }
    }
    const form = await readForm(req.headers, body).catch(() => undefined);
    const recorded: RecordedRequest = {
      method: req.method ?? "",
      path: req.url ?? "",
      headers: req.headers,
      body,
      json,
      form,
      startedAt,
      at: Date.now(),
      events: [],
    };
    requests.push(recorded);
    res.once("finish", () => {
      recorded.finishedAt = epochMs();
      for (const listener of listeners) listener(recorded);
    });
    if (options.hold?.(recorded)) {
      options.onHold?.(recorded);
      if (!res.destroyed) await once(res, "close");
      return;
    }
    // A streamed answer spreads the latency over its events instead of waiting it out first.
    const streamed = json?.stream === true || form?.fields.stream?.[0] === "true";
    if (latency > 0 && !streamed) {
      let gone = false;
      res.once("close", () => {
        gone = true;
      });
      await waitLatency(startedAt);
      // A client that gave up must not use up a response scripted for a later request.
      if (gone && !res.writableFinished) return;
    }
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      recorded.status = status;
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(payload));
    };
    /**
     * OpenAI's image stream: `partials` previews of each image (darker renderings of it, at its size), spread
     * over the latency already waited as a real model spreads them over its work, then each image.
     */
    const stream = async (
      kind: "image_generation" | "image_edit",
      n: number,
      b64: string,
      o: {
        w: number | undefined;
        h: number | undefined;
        format: "png" | "jpeg" | "webp";
        partials: number;
        usage: { input_tokens: number; output_tokens: number; total_tokens: number };
      },
    ) => {
      recorded.status = 200;
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      const breakAfter = breaks.shift();
      const fields = {
        created_at: Math.floor(Date.now() / 1000),
        size: `${o.w}x${o.h}`,
        quality: "auto",
        background: "opaque",
        output_format: o.format,
      };
      const write = (type: string, data: Record<string, unknown>) => {
        if (res.destroyed || (breakAfter !== undefined && recorded.events.length >= breakAfter)) return false;
        const event = { type, ...data, ...fields };
        assertImageStreamEvent(event, type);
        res.write(`event: ${type}\ndata: ${JSON.stringify(event)}\n\n`);
        const at = epochMs();
        recorded.events.push({ type, at });
        for (const listener of eventListeners) listener(recorded, type, at);
        return true;
      };
      // Event k of each image comes at (k + 1) / (partials + 1) of the latency; setLatency moves them too.
      const share = (image: number, k: number) => (image * (o.partials + 1) + k + 1) / (n * (o.partials + 1));
      for (let image = 0; image < n; image++) {
        for (let index = 0; index < o.partials; index++) {
          await waitLatency(startedAt, share(image, index));
          const colour = partialColours[index] ?? "#000000";
          const key = `${o.w}x${o.h}.${o.format}.${colour}`;
          let preview = cache.get(key);
          if (!preview) {
            preview = fakeImage(o.w ?? 1024, o.h ?? 1024, o.format, options.texture, colour).then((b) =>
              b.toString("base64"),
            );
            cache.set(key, preview);
          }
          const b64Preview = await preview;
          if (!write(`${kind}.partial_image`, { b64_json: b64Preview, partial_image_index: index }))
            return res.destroy();
        }
        await waitLatency(startedAt, share(image, o.partials));
        const usage = {
          ...o.usage,
          input_tokens_details: { text_tokens: o.usage.input_tokens, image_tokens: 0 },
        };
        if (!write(`${kind}.completed`, { b64_json: b64, usage })) return res.destroy();
      }
      res.end();
    };
    // Its own answers are OpenAI's ImagesResponse (scripted ones are the test's business): a drift fails loudly.
    const sendImages = (payload: Record<string, unknown>) => {
      assertImagesResponse(payload, "The fake OpenAI's answer");
      send(200, payload);
    };
    const next = scripted.shift() ?? drawFault();
    if (next) return send(next.status, next.body, next.headers);
    if (req.method === "POST" && req.url === "/v1/images/generations" && json) {
      const { payload, b64, w, h, format, n } = await generation(json);
      if (json.stream === true) {
        const partials = typeof json.partial_images === "number" ? json.partial_images : 0;
        const usage = { input_tokens: 10, output_tokens: 100, total_tokens: 110 };
        return stream("image_generation", n, b64, { w, h, format, partials, usage });
      }
      return sendImages(payload);
    }
    if (req.method === "POST" && req.url === "/v1/files" && form) {
      const file = form.files.file?.[0];
      const purpose = form.fields.purpose?.[0];
      if (!file || purpose !== "batch")
        return send(400, openaiError(400, "Give 'file' and purpose 'batch'.", null).body);
      return send(200, fileObject(addFile(file.filename, purpose, file.bytes)));
    }
    const fileMatch = /^\/v1\/files\/([\w-]+)(\/content)?$/.exec(req.url ?? "");
    if (req.method === "GET" && fileMatch) {
      const id = fileMatch[1] as string;
      const file = files.get(id);
      if (!file) return send(404, openaiError(404, `No such File object: ${id}`, null).body);
      if (!fileMatch[2]) return send(200, fileObject(id));
      recorded.status = 200;
      res.writeHead(200, { "content-type": "application/octet-stream" });
      return res.end(file.bytes);
    }
    if (req.method === "POST" && req.url === "/v1/batches" && json) {
      const inputFileId = String(json.input_file_id ?? "");
      if (
        !files.has(inputFileId) ||
        json.endpoint !== "/v1/images/generations" ||
        json.completion_window !== "24h"
      )
        return send(
          400,
          openaiError(400, "Invalid batch: input file, endpoint or completion window.", null).body,
        );
      const id = newId("batch");
      const created = Math.floor(Date.now() / 1000);
      const batch: FakeBatch = {
        object: {
          id,
          object: "batch",
          endpoint: json.endpoint,
          errors: null,
          input_file_id: inputFileId,
          completion_window: "24h",
          status: "validating",
          output_file_id: null,
          error_file_id: null,
          created_at: created,
          expires_at: created + 86_400,
          request_counts: { total: 0, completed: 0, failed: 0 },
          metadata: json.metadata ?? null,
        },
        endsAt: Date.now() + (options.batchDelayMs ?? 0),
        end: ends.shift() ?? "completed",
      };
      batches.set(id, batch);
      return send(200, batch.object);
    }
    const batchMatch = /^\/v1\/batches\/([\w-]+)(\/cancel)?$/.exec(req.url ?? "");
    if (batchMatch) {
      const batch = batches.get(batchMatch[1] as string);
      if (!batch) return send(404, openaiError(404, `No such batch: ${batchMatch[1]}`, null).body);
      if (req.method === "POST" && batchMatch[2]) {
        if (!["completed", "failed", "expired"].includes(batch.object.status)) {
          batch.end = "cancelled";
          batch.endsAt = 0;
        }
      }
      await advance(batch);
      return send(200, batch.object);
    }
    if (
      req.method === "POST" &&
      (req.url === "/v1/images/edits" || req.url === "/v1/images/variations") &&
      form
    ) {
      // Answers with the first input image at the requested size (or its own), in the requested format.
      const input = (form.files.image ?? form.files["image[]"] ?? [])[0];
      if (!input) return send(400, openaiError(400, "'image' is a required property", null).body);
      const field = (name: string) => form.fields[name]?.[0];
      const size = field("size");
      const format = (field("output_format") ?? "png") as "png" | "jpeg" | "webp";
      const [w, h] = size && size !== "auto" ? size.split("x").map(Number) : [undefined, undefined];
      const out = await sharp(input.bytes).resize(w, h, { fit: "fill" }).toFormat(format).toBuffer();
      const n = Number(field("n") ?? 1);
      const meta = await sharp(out).metadata();
      if (field("stream") === "true") {
        const partials = Number(field("partial_images") ?? 0);
        const usage = { input_tokens: 50, output_tokens: 100, total_tokens: 150 };
        return stream("image_edit", n, out.toString("base64"), {
          w: meta.width,
          h: meta.height,
          format,
          partials,
          usage,
        });
      }
      return sendImages({
        created: Math.floor(Date.now() / 1000),
        data: Array.from({ length: n }, () => ({ b64_json: out.toString("base64") })),
        background: meta.hasAlpha ? "transparent" : "opaque",
        output_format: format,
        size: `${meta.width}x${meta.height}`,
        quality: resolvedQuality(field("quality")),
        usage: {
          input_tokens: 50,
          output_tokens: 100 * n,
          total_tokens: 50 + 100 * n,
          input_tokens_details: { text_tokens: 10, image_tokens: 40 },
        },
      });
    }
    send(404, {
      error: { message: `Unknown route ${req.method} ${req.url}`, type: "invalid_request_error" },
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    script: (...r) => scripted.push(...r),
    breakNextStream: (afterEvents) => breaks.push(afterEvents),
    onStreamEvent: (listener) => {
      eventListeners.add(listener);
      return () => eventListeners.delete(listener);
    },
    setLatency: (ms) => {
      latency = ms;
      for (const w of waiting) w.rearm();
    },
    onResponse: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    endNextBatch: (end) => ends.push(end),
    batches,
    files,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** What OpenAI reports having made: the quality asked for, or for "auto" (or none) the one it chose. */
const resolvedQuality = (asked: unknown) =>
  typeof asked === "string" && asked !== "auto" ? asked : fakeAutoQuality;

/** The quality the fake says "auto" became, as OpenAI reports its choice. */
export const fakeAutoQuality = "medium";

export const openaiError = (
  status: number,
  message: string,
  code: string | null,
  type = "invalid_request_error",
) => ({
  status,
  body: { error: { message, type, param: null, code } },
});
