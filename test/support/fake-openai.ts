import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import sharp from "sharp";

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: Buffer;
  json: Record<string, unknown> | undefined;
  /** When the request arrived (epoch ms), for asserting on backoff. */
  at: number;
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
  setLatency(ms: number): void;
  close(): Promise<void>;
}

/**
 * A stand-in for api.openai.com that speaks its Images API over HTTP, so the real `openai` SDK does the talking.
 * Generations answer with real PNGs of the requested size as b64_json, as gpt-image models do.
 */
export async function startFakeOpenAI(options: { latencyMs?: number } = {}): Promise<FakeOpenAI> {
  const requests: RecordedRequest[] = [];
  const scripted: ScriptedResponse[] = [];
  let latency = options.latencyMs ?? 0;
  const cache = new Map<string, string>();

  const server: Server = createServer(async (req, res) => {
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
    requests.push({
      method: req.method ?? "",
      path: req.url ?? "",
      headers: req.headers,
      body,
      json,
      at: Date.now(),
    });
    if (latency > 0) {
      let gone = false;
      res.once("close", () => {
        gone = true;
      });
      await new Promise((r) => setTimeout(r, latency));
      // A client that gave up must not use up a response scripted for a later request.
      if (gone) return;
    }
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(payload));
    };
    const next = scripted.shift();
    if (next) return send(next.status, next.body, next.headers);
    if (req.method === "POST" && req.url === "/v1/images/generations" && json) {
      const size = typeof json.size === "string" && json.size !== "auto" ? json.size : "1024x1024";
      const [w, h] = size.split("x").map(Number);
      const format = (json.output_format as "png" | "jpeg" | "webp" | undefined) ?? "png";
      const n = typeof json.n === "number" ? json.n : 1;
      const key = `${w}x${h}.${format}`;
      let b64 = cache.get(key);
      if (!b64) {
        const img = sharp({
          create: { width: w ?? 1024, height: h ?? 1024, channels: 3, background: "#3366cc" },
        });
        b64 = (await img.toFormat(format).toBuffer()).toString("base64");
        cache.set(key, b64);
      }
      return send(200, {
        created: Math.floor(Date.now() / 1000),
        data: Array.from({ length: n }, () => ({ b64_json: b64 })),
        output_format: format,
        size,
        usage: {
          input_tokens: 10,
          output_tokens: 100 * n,
          total_tokens: 10 + 100 * n,
          input_tokens_details: {},
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
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const openaiError = (
  status: number,
  message: string,
  code: string | null,
  type = "invalid_request_error",
) => ({
  status,
  body: { error: { message, type, param: null, code } },
});
