import { lookup } from "node:dns/promises";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkUrl, isPrivateAddress, OutboundRequestError, outboundRequest } from "../../lib/net/outbound.ts";

const base = { timeoutMs: 2_000, maxBytes: 1024, maxRedirects: 3, allowPrivate: false } as const;

async function failure(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OutboundRequestError);
  return (err as OutboundRequestError).failure;
}

describe("SSRF guard", () => {
  it.each([
    "http://127.0.0.1/",
    "http://2130706433/", // decimal
    "http://0x7f000001/", // hex
    "http://0177.0.0.1/", // octal
    "http://127.1/", // short form
    "http://0.0.0.0/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[0:0:0:0:0:ffff:a9fe:a9fe]/", // 169.254.169.254, IPv4-mapped
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/", // EC2 metadata over IPv6
    "http://10.1.2.3/",
    "http://172.20.0.1/",
    "http://192.168.0.10/",
    "http://100.64.1.1/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[64:ff9b::7f00:1]/", // NAT64 of 127.0.0.1
    "http://localhost:8080/",
    "http://LOCALHOST.:8080/", // trailing dot, upper case
    "http://api.localhost./",
    "http://metadata.google.internal/",
  ])("refuses %s", (url) => {
    expect(() => checkUrl(url, false)).toThrow(/private or reserved/);
  });

  it.each([
    "file:///etc/passwd",
    "ftp://example.com/x.png",
    "gopher://example.com/",
    "data:image/png;base64,AAAA",
  ])("refuses the scheme of %s", (url) => {
    expect(() => checkUrl(url, false)).toThrow(/scheme/);
  });

  it("accepts public addresses, and private ones only when allowed", () => {
    expect(isPrivateAddress("93.184.216.34")).toBe(false);
    expect(isPrivateAddress("2606:4700::1111")).toBe(false);
    expect(() => checkUrl("http://10.0.0.1/", true)).not.toThrow();
  });

  it("refuses a DNS name that resolves to a private address, at connect time", async () => {
    const name = hostname();
    // Precondition: this machine's own name resolves to loopback or a private address.
    expect(isPrivateAddress((await lookup(name)).address)).toBe(true);
    expect(await failure(outboundRequest(`http://${name}:9/`, base))).toBe("blocked");
  });
});

describe("outbound requests", () => {
  let server: Server;
  let port: number;
  // 127.0.0.1 plays the public internet; every other loopback address stays private.
  const onlyServer = (address: string) => address === "127.0.0.1";

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === "/redirect-private") {
        res.writeHead(302, { location: `http://127.0.0.2:${port}/ok` }).end();
      } else if (req.url === "/redirect-ok") {
        res.writeHead(301, { location: "/ok" }).end();
      } else if (req.url === "/loop") {
        res.writeHead(302, { location: "/loop" }).end();
      } else if (req.url === "/big") {
        res.writeHead(200);
        res.end(Buffer.alloc(4096));
      } else if (req.url === "/slow") {
        setTimeout(() => res.end("late"), 3_000).unref();
      } else {
        res.end("fine");
      }
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it("follows allowed redirects", async () => {
    const res = await outboundRequest(`http://127.0.0.1:${port}/redirect-ok`, {
      ...base,
      allowPrivate: onlyServer,
    });
    expect([res.status, res.body.toString(), res.url]).toEqual([200, "fine", `http://127.0.0.1:${port}/ok`]);
  });

  it("refuses a redirect to a private address", async () => {
    const p = outboundRequest(`http://127.0.0.1:${port}/redirect-private`, {
      ...base,
      allowPrivate: onlyServer,
    });
    expect(await failure(p)).toBe("blocked");
  });

  it("stops redirect loops", async () => {
    const p = outboundRequest(`http://127.0.0.1:${port}/loop`, { ...base, allowPrivate: onlyServer });
    expect(await failure(p)).toBe("redirects");
  });

  it("caps the body while streaming", async () => {
    const p = outboundRequest(`http://127.0.0.1:${port}/big`, { ...base, allowPrivate: onlyServer });
    expect(await failure(p)).toBe("too_large");
  });

  it("times out", async () => {
    const p = outboundRequest(`http://127.0.0.1:${port}/slow`, {
      ...base,
      timeoutMs: 200,
      allowPrivate: onlyServer,
    });
    expect(await failure(p)).toBe("timeout");
  });

  it("refuses loopback itself unless allowed", async () => {
    expect(await failure(outboundRequest(`http://127.0.0.1:${port}/ok`, base))).toBe("blocked");
  });
});
