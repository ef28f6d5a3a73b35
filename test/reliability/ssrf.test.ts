import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpClient, type Json } from "../support/http.ts";
import { picture } from "../support/images.ts";
import { type ServiceStack, startServiceStack } from "../support/service-stack.ts";
import { printFigures } from "./figures.ts";

// SSRF: image URLs (edits by URL) and webhook URLs that lead to loopback, private, link-local, metadata or
// non-http targets, in every spelling, directly, by DNS name and by redirect. ALLOW_PRIVATE_URLS is false;
// the one exception is 127.0.0.3, which plays a public host that redirects (nothing else is public here).
// A target listening on every loopback address (IPv4 and IPv6) counts what reached it: it must stay at 0.

const publicHost = "127.0.0.3";

let svc: ServiceStack;
let target: Server;
let redirector: Server;
let port: number;
let redirectPort: number;
const reached: string[] = [];
const redirected: string[] = [];

/** Every vector, with `P` the target's port. Direct forms first, then redirects through the "public" host. */
function vectors(): { name: string; url: string }[] {
  const P = port;
  const direct = [
    ["loopback", `http://127.0.0.1:${P}/x.png`],
    ["loopback, decimal", `http://2130706433:${P}/x.png`],
    ["loopback, hex", `http://0x7f000001:${P}/x.png`],
    ["loopback, octal", `http://0177.0.0.1:${P}/x.png`],
    ["loopback, short", `http://127.1:${P}/x.png`],
    ["loopback, mixed hex", `http://0x7f.1:${P}/x.png`],
    ["loopback, another address", `http://127.0.0.2:${P}/x.png`],
    ["0.0.0.0", `http://0.0.0.0:${P}/x.png`],
    ["0", `http://0:${P}/x.png`],
    ["[::1]", `http://[::1]:${P}/x.png`],
    ["[::]", `http://[::]:${P}/x.png`],
    ["[::ffff:127.0.0.1]", `http://[::ffff:127.0.0.1]:${P}/x.png`],
    ["[::ffff:7f00:1]", `http://[::ffff:7f00:1]:${P}/x.png`],
    ["[0:0:0:0:0:ffff:127.0.0.1]", `http://[0:0:0:0:0:ffff:127.0.0.1]:${P}/x.png`],
    ["NAT64 of loopback", `http://[64:ff9b::7f00:1]:${P}/x.png`],
    ["metadata", "http://169.254.169.254/latest/meta-data/iam/security-credentials/"],
    ["metadata, IPv4-mapped", "http://[::ffff:169.254.169.254]/latest/meta-data/"],
    ["metadata, decimal", "http://2852039166/latest/meta-data/"],
    ["EC2 metadata over IPv6", "http://[fd00:ec2::254]/latest/meta-data/"],
    ["fd00::/8", "http://[fd12:3456:789a::1]/x.png"],
    ["fe80:: link-local", "http://[fe80::1]/x.png"],
    ["10/8", "http://10.0.0.1/x.png"],
    ["172.16/12", "http://172.16.5.4/x.png"],
    ["192.168/16", "http://192.168.1.1/x.png"],
    ["100.64/10", "http://100.64.0.1/x.png"],
    ["localhost", `http://localhost:${P}/x.png`],
    ["LOCALHOST.", `http://LOCALHOST.:${P}/x.png`],
    ["*.localhost", `http://api.localhost:${P}/x.png`],
    ["*.internal", "http://metadata.google.internal/computeMetadata/v1/"],
    // /etc/hosts names that resolve to 127.0.0.1: refused when connecting, after DNS.
    ["name resolving to loopback (vm)", `http://vm:${P}/x.png`],
    ["name resolving to loopback (runsc)", `http://runsc:${P}/x.png`],
    ["credentials in the URL", `http://user:pass@${publicHost}:${redirectPort}/x.png`],
    ["file:", "file:///etc/passwd"],
    ["gopher:", `gopher://127.0.0.1:${P}/_GET%20/`],
    ["ftp:", "ftp://127.0.0.1/x.png"],
    ["data: text/html", "data:text/html,<script>alert(1)</script>"],
    ["dict:", `dict://127.0.0.1:${P}/info`],
  ].map(([name, url]) => ({ name: name as string, url: url as string }));
  const via = (name: string, to: string) => ({
    name: `redirect to ${name}`,
    url: `http://${publicHost}:${redirectPort}/to?u=${encodeURIComponent(to)}`,
  });
  return [
    ...direct,
    via("loopback", `http://127.0.0.1:${P}/x.png`),
    via("[::1]", `http://[::1]:${P}/x.png`),
    via("[::ffff:127.0.0.1]", `http://[::ffff:127.0.0.1]:${P}/x.png`),
    via("metadata", "http://169.254.169.254/latest/meta-data/"),
    via("a name resolving to loopback", `http://vm:${P}/x.png`),
    via("file:", "file:///etc/passwd"),
    via("decimal loopback", `http://2130706433:${P}/x.png`),
  ];
}

beforeAll(async () => {
  const png = await picture(64, 64, "png");
  // The private target: on every loopback address, v4 and v6 (dual stack), answering with an image.
  target = createServer((req, res) => {
    reached.push(`${req.method} ${req.socket.localAddress} ${req.url}`);
    res.writeHead(200, { "content-type": "image/png" }).end(png);
  });
  target.listen(0, "::");
  await once(target, "listening");
  port = (target.address() as AddressInfo).port;
  redirector = createServer((req, res) => {
    redirected.push(`${req.method} ${req.url}`);
    const to = new URL(req.url ?? "/", "http://x").searchParams.get("u");
    if (to) res.writeHead(req.method === "POST" ? 307 : 302, { location: to }).end();
    else res.writeHead(200, { "content-type": "image/png" }).end(png);
  });
  redirector.listen(0, publicHost);
  await once(redirector, "listening");
  redirectPort = (redirector.address() as AddressInfo).port;
  svc = await startServiceStack({
    env: { ALLOW_PRIVATE_URLS: "false", WEBHOOK_RETRY_SCHEDULE: "60" },
    overrides: { urlPolicy: (address) => address === publicHost },
  });
});

afterAll(async () => {
  await svc?.close();
  for (const s of [target, redirector]) {
    s?.closeAllConnections();
    s?.close();
  }
});

describe("SSRF", () => {
  it("the public stand-in is reachable, so a refusal below is the guard's doing", async () => {
    const api = httpClient(svc.url, svc.keys.acme);
    const res = await api.post("/v1/images/edits", {
      prompt: "fine",
      image: `http://${publicHost}:${redirectPort}/ok.png`,
    });
    expect(res.status, res.text).toBe(200);
    expect(redirected).toContain("GET /ok.png");
  });

  it("refuses every vector as an image URL, in edits and in jobs, and never fetches it", async () => {
    const api = httpClient(svc.url, svc.keys.acme);
    const list = vectors();
    const refused: Json[] = [];
    for (const v of list) {
      const sync = await api.post("/v1/images/edits", { prompt: "x", image: v.url });
      const job = await api.post("/v1/jobs", {
        operation: "edit",
        input: { prompt: "x", images: [{ image_url: v.url }] },
      });
      const variation = await api.post("/v1/images/variations", { image: v.url });
      for (const [where, res] of [
        ["edits", sync],
        ["jobs", job],
        ["variations", variation],
      ] as const) {
        refused.push({ vector: v.name, where, status: res.status, code: res.body?.error?.code });
        expect(res.status, `${v.name} via ${where}: ${res.text}`).toBe(400);
        expect(res.body.error.param, v.name).toMatch(/image/);
        // Refused as a URL; a data: URL that is not base64 image data is refused as not an image.
        expect(res.body.error.code, v.name).toBe(v.url.startsWith("data:") ? null : "url_not_allowed");
      }
    }
    const codes = new Map<string, number>();
    for (const r of refused) codes.set(r.code, (codes.get(r.code) ?? 0) + 1);
    printFigures("SSRF: image URLs", {
      vectors: list.length,
      requests: refused.length,
      refused: refused.filter((r) => r.status === 400).length,
      "by code": [...codes.entries()].map(([c, n]) => `${c}:${n}`).join(" "),
      "requests that reached a private target": reached.length,
    });
    expect(reached).toEqual([]);
  });

  it("refuses every vector as a webhook URL, at submission or at delivery, and never delivers to it", async () => {
    const api = httpClient(svc.url, svc.keys.acme);
    const list = vectors();
    let atSubmission = 0;
    const accepted: { name: string; id: string }[] = [];
    for (const v of list) {
      const res = await api.post("/v1/jobs", {
        operation: "generate",
        input: { prompt: "x", size: "1024x1024" },
        webhook: { url: v.url, events: ["job.succeeded"] },
      });
      if (res.status === 400) {
        expect(res.body.error.param).toBe("webhook.url");
        atSubmission++;
        continue;
      }
      // Accepted only when the URL's form is fine and its host a name: the address is checked when sending.
      expect(res.status, `${v.name}: ${res.text}`).toBe(202);
      accepted.push({ name: v.name, id: res.body.id });
    }
    // Each accepted job's one event is attempted once (the retry is a minute away) and refused.
    const attempts: string[] = [];
    for (const a of accepted) {
      const deadline = Date.now() + 20_000;
      let delivery: Json;
      for (;;) {
        const job = (await api.get(`/v1/jobs/${a.id}`)).body;
        delivery = job.webhook?.deliveries?.[0];
        if (job.status === "succeeded" && delivery?.attempts?.length > 0) break;
        if (Date.now() > deadline) throw new Error(`${a.name}: no delivery attempt`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const attempt = delivery.attempts[0];
      attempts.push(`${a.name}: ${attempt.error ?? attempt.status}`);
      expect(delivery.status, a.name).not.toBe("delivered");
      // Refused before connecting, or (through the public redirector) not followed.
      expect(attempt.error ?? `redirect ${attempt.status}`, a.name).toMatch(/^blocked|^redirect 307$/);
    }
    printFigures("SSRF: webhook URLs", {
      vectors: list.length,
      "refused at submission": atSubmission,
      "refused at delivery": accepted.length,
      "delivery attempts": attempts.join("; "),
      "requests that reached a private target": reached.length,
    });
    expect(atSubmission + accepted.length).toBe(list.length);
    expect(accepted.length).toBeGreaterThan(0);
    expect(reached).toEqual([]);
  });
});
