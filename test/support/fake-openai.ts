import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import sharp from "sharp";
import { assertImagesResponse } from "./openai-schemas.ts";

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
  /** Also applies to requests already waiting: lowering it releases them once they have waited that long. */
  setLatency(ms: number): void;
  /** Called once each response has been fully written (benchmarks time the provider's side with this). */
  onResponse(listener: (request: RecordedRequest) => void): () => void;
  close(): Promise<void>;
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
}

/** The image the fake answers with: a real encoded image of the given size and texture. */
export function fakeImage(
  width: number,
  height: number,
  format: "png" | "jpeg" | "webp",
  texture: FakeOpenAIOptions["texture"] = "flat",
): Promise<Buffer> {
  const create = { width, height, channels: 3 as const, background: "#3366cc" };
  return sharp({
    create: texture === "photo" ? { ...create, noise: { type: "gaussian", mean: 128, sigma: 4 } } : create,
  })
    .toFormat(format)
    .toBuffer();
}

const epochMs = () => performance.timeOrigin + performance.now();

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
  const waiting = new Set<{ startedAt: number; rearm(): void }>();
  const waitLatency = (startedAt: number) =>
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
            Math.max(0, startedAt + latency - epochMs()),
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
    if (latency > 0) {
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
    // Its own answers are OpenAI's ImagesResponse (scripted ones are the test's business): a drift fails loudly.
    const sendImages = (payload: Record<string, unknown>) => {
      assertImagesResponse(payload, "The fake OpenAI's answer");
      send(200, payload);
    };
    const next = scripted.shift() ?? drawFault();
    if (next) return send(next.status, next.body, next.headers);
    if (req.method === "POST" && req.url === "/v1/images/generations" && json) {
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
      return sendImages({
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
      });
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
    setLatency: (ms) => {
      latency = ms;
      for (const w of waiting) w.rearm();
    },
    onResponse: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
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
