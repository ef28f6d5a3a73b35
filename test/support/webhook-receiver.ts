import { EventEmitter, once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedWebhook {
  at: number;
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body, exactly as signed. */
  body: string;
}

export interface WebhookReceiver {
  url(path?: string): string;
  received: ReceivedWebhook[];
  /** Answers for the next requests to `path`, first in first out; then 200. */
  script(path: string, ...answers: { status: number; headers?: Record<string, string> }[]): void;
  /** Resolves once `count` requests have reached `path`. */
  waitFor(path: string, count: number, timeoutMs?: number): Promise<ReceivedWebhook[]>;
  close(): Promise<void>;
}

/** A local webhook endpoint that records every delivery and answers as scripted. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const scripts = new Map<string, { status: number; headers?: Record<string, string> }[]>();
  const arrivals = new EventEmitter();
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const path = req.url ?? "/";
    received.push({
      at: Date.now(),
      path,
      headers: req.headers,
      body: Buffer.concat(chunks).toString("utf8"),
    });
    const answer = scripts.get(path)?.shift() ?? { status: 200 };
    res.writeHead(answer.status, answer.headers).end();
    arrivals.emit("request");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  const at = (path: string) => received.filter((r) => r.path === path);
  return {
    url: (path = "/hook") => `http://127.0.0.1:${port}${path}`,
    received,
    script: (path, ...answers) => scripts.set(path, [...(scripts.get(path) ?? []), ...answers]),
    async waitFor(path, count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (at(path).length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`Expected ${count} deliveries to ${path}, got ${at(path).length}`);
        await once(arrivals, "request", { signal: AbortSignal.timeout(left) }).catch(() => undefined);
      }
      return at(path);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
