import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { BlockList, isIP, type LookupFunction } from "node:net";

// Outbound HTTP to addresses that users give us (image URLs, webhook endpoints), guarded against SSRF:
// only http(s), and no loopback, private, link-local, metadata or otherwise special address — checked on the
// address actually connected to (after DNS, so rebinding cannot slip through) and again on every redirect.

export type OutboundFailure =
  | "scheme"
  | "blocked"
  | "dns"
  | "timeout"
  | "too_large"
  | "network"
  | "redirects";

export class OutboundRequestError extends Error {
  override name = "OutboundRequestError";
  readonly failure: OutboundFailure;
  constructor(failure: OutboundFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.failure = failure;
  }
}

const blocked = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8], // "this network"; 0.0.0.0 reaches localhost on Linux
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8],
  ["169.254.0.0", 16], // link-local, including the 169.254.169.254 metadata service
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, and broadcast
] as const) {
  blocked.addSubnet(net, prefix, "ipv4");
}
for (const [net, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["64:ff9b::", 96], // NAT64 can reach any IPv4 address
  ["64:ff9b:1::", 48],
  ["100::", 64],
  ["2001::", 23], // IETF protocol assignments, Teredo
  ["2001:db8::", 32],
  ["2002::", 16], // 6to4 embeds an IPv4 address
  ["fc00::", 7], // unique local, including fd00:ec2::254 (EC2 metadata over IPv6)
  ["fe80::", 10],
  ["fec0::", 10],
  ["ff00::", 8],
] as const) {
  blocked.addSubnet(net, prefix, "ipv6");
}

/** True when connecting to `address` could reach something that is not the public internet. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, "ipv4");
  if (family !== 6) return true;
  const mapped =
    /^(?:0*:)*(?:0*:)?ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address) ?? /^::(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (mapped?.[1]) return blocked.check(mapped[1], "ipv4");
  const hexMapped = /^(?:0*:)*ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (hexMapped?.[1] && hexMapped[2]) {
    const hi = Number.parseInt(hexMapped[1], 16);
    const lo = Number.parseInt(hexMapped[2], 16);
    return blocked.check(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, "ipv4");
  }
  return blocked.check(address, "ipv6");
}

export type AddressPolicy = boolean | ((address: string) => boolean);

const permitted = (address: string, policy: AddressPolicy) =>
  policy === true || !isPrivateAddress(address) || (typeof policy === "function" && policy(address));

export interface OutboundOptions {
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Whole exchange, redirects included. */
  timeoutMs: number;
  /** Response bodies larger than this are cut off while streaming. */
  maxBytes: number;
  maxRedirects: number;
  /**
   * ALLOW_PRIVATE_URLS: true for deployments that fetch from their own network on purpose. A predicate allows
   * only the private addresses it accepts (tests use it to stand up a "public" server on loopback).
   */
  allowPrivate: AddressPolicy;
  signal?: AbortSignal;
}

export interface OutboundResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The URL that answered, after redirects. */
  url: string;
}

/** Parses and checks a URL's form; the address is checked when connecting. */
export function checkUrl(raw: string, allowPrivate: AddressPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OutboundRequestError("scheme", "is not a valid URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new OutboundRequestError(
      "scheme",
      `uses the ${url.protocol.replace(":", "")} scheme; only http and https are allowed`,
    );
  }
  if (url.username || url.password) throw new OutboundRequestError("scheme", "must not contain credentials");
  // WHATWG URL has already normalised decimal, hex and octal IPv4 forms to dotted quads here.
  // A trailing dot names the same host ("localhost." is localhost).
  const host = url.hostname
    .replace(/^\[|\]$/g, "")
    .replace(/\.+$/, "")
    .toLowerCase();
  if (isIP(host) && !permitted(host, allowPrivate)) {
    throw new OutboundRequestError("blocked", "points to a private or reserved address");
  }
  if (
    allowPrivate !== true &&
    (host === "localhost" || host.endsWith(".localhost") || host.endsWith(".internal"))
  ) {
    throw new OutboundRequestError("blocked", "points to a private or reserved address");
  }
  return url;
}

function guardedLookup(allowPrivate: AddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true, verbatim: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, "", 4);
      const list = addresses;
      const bad = list.find((a) => !permitted(a.address, allowPrivate));
      if (bad || list.length === 0) {
        const e = new OutboundRequestError("blocked", "resolves to a private or reserved address");
        return callback(e as NodeJS.ErrnoException, "", 4);
      }
      if ((options as { all?: boolean }).all)
        return (callback as (e: null, a: LookupAddress[]) => void)(null, list);
      const first = list[0] as LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}

function once(url: URL, options: OutboundOptions, signal: AbortSignal): Promise<OutboundResponse> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const req = send(url, {
      method: options.method ?? "GET",
      headers: { "user-agent": "image-jobs/1", ...options.headers },
      lookup: guardedLookup(options.allowPrivate),
      signal,
    });
    req.on("error", (err) => {
      if (err instanceof OutboundRequestError) return reject(err);
      const cause = (err as { cause?: unknown }).cause;
      if (cause instanceof OutboundRequestError) return reject(cause);
      if (signal.aborted)
        return reject(new OutboundRequestError("timeout", "did not answer in time", { cause: err }));
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
        return reject(
          new OutboundRequestError("dns", "has a host name that does not resolve", { cause: err }),
        );
      }
      reject(new OutboundRequestError("network", "could not be reached", { cause: err }));
    });
    req.on("response", (res) => {
      const declared = Number(res.headers["content-length"] ?? 0);
      if (declared > options.maxBytes) {
        res.destroy();
        return reject(new OutboundRequestError("too_large", `is larger than ${options.maxBytes} bytes`));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) {
          res.destroy();
          reject(new OutboundRequestError("too_large", `is larger than ${options.maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          url: url.href,
        }),
      );
      res.on("error", (err) =>
        reject(new OutboundRequestError("network", "broke off the response", { cause: err })),
      );
    });
    req.end(options.body);
  });
}

/** One guarded request, following up to `maxRedirects` redirects, each checked like the first URL. */
export async function outboundRequest(raw: string, options: OutboundOptions): Promise<OutboundResponse> {
  const signal = options.signal
    ? AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)])
    : AbortSignal.timeout(options.timeoutMs);
  let url = checkUrl(raw, options.allowPrivate);
  for (let hop = 0; ; hop++) {
    const res = await once(url, options, signal);
    const location = res.headers.location;
    if (
      res.status < 300 ||
      res.status >= 400 ||
      res.status === 304 ||
      !location ||
      options.maxRedirects === 0
    ) {
      return res;
    }
    if (hop >= options.maxRedirects) throw new OutboundRequestError("redirects", "redirects too many times");
    url = checkUrl(new URL(location, url).href, options.allowPrivate);
  }
}
