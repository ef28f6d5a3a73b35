import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lambdaContext } from "../../infra/sandbox/lambda.ts";
import { checkedApi } from "../support/contract.ts";
import { apiFunction } from "../support/functions.ts";
import { httpClient } from "../support/http.ts";
import { type ServiceStack, startServiceStack } from "../support/service-stack.ts";

// HEAD over HTTP, through the API handler and the sandbox's HTTP front: GET's status and headers, no body.

let svc: ServiceStack;
let dir: string;
const page = "<!doctype html><title>playground</title>";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "head-playground-"));
  await mkdir(join(dir, "assets"));
  await writeFile(join(dir, "index.html"), page);
  svc = await startServiceStack({ env: { PLAYGROUND_DIR: dir } });
});
afterAll(async () => {
  await svc?.close();
  await rm(dir, { recursive: true, force: true });
});

/**
 * One request on a raw socket, read to the end: what is on the wire after the headers is checked, where an
 * HTTP client would drop a HEAD response's body unseen.
 */
function wire(method: string, path: string, headers: Record<string, string> = {}) {
  const url = new URL(svc.url);
  const lines = [`${method} ${path} HTTP/1.1`, `host: ${url.host}`, "connection: close"];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return new Promise<{ status: number; headers: Record<string, string>; body: string }>((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () =>
      socket.write(`${lines.join("\r\n")}\r\n\r\n`),
    );
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("end", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      const split = text.indexOf("\r\n\r\n");
      const [statusLine = "", ...rest] = text.slice(0, split).split("\r\n");
      const parsed: Record<string, string> = {};
      for (const line of rest) {
        const colon = line.indexOf(":");
        parsed[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(" ")[1]), headers: parsed, body: text.slice(split + 4) });
    });
  });
}

/** The headers HEAD must repeat from GET: all but the per-request ones. */
const comparable = (headers: Record<string, string>) => {
  const { date: _d, "x-request-id": _r, ...rest } = headers;
  return rest;
};

describe("HEAD", () => {
  it("answers HEAD / as GET / does, without the page", async () => {
    const get = await wire("GET", "/");
    expect([get.status, get.body]).toEqual([200, page]);
    const head = await wire("HEAD", "/");
    expect(head.status).toBe(200);
    expect(head.body).toBe("");
    expect(comparable(head.headers)).toEqual(comparable(get.headers));
    expect(head.headers["content-length"]).toBe(String(Buffer.byteLength(page)));
    expect(head.headers["content-type"]).toBe("text/html; charset=utf-8");
  });

  it("answers HEAD /health without a body", async () => {
    const get = await wire("GET", "/health");
    expect(get.status).toBe(200);
    expect(JSON.parse(get.body)).toMatchObject({ status: expect.any(String) });
    const head = await wire("HEAD", "/health");
    expect([head.status, head.body]).toEqual([200, ""]);
    expect(head.headers["content-type"]).toBe("application/json");
    expect(head.headers["content-length"]).toBe(get.headers["content-length"]);
  });

  it("answers HEAD /v1/jobs/{id} for the job's owner, and 401 without a key, with no body either way", async () => {
    const acme = httpClient(svc.url, svc.keys.acme);
    const submitted = await acme.post("/v1/jobs", { operation: "generate", input: { prompt: "a head" } });
    expect(submitted.status).toBe(202);
    const path = `/v1/jobs/${submitted.body.id}`;
    const auth = { authorization: `Bearer ${svc.keys.acme}` };

    const head = await wire("HEAD", path, auth);
    expect([head.status, head.body]).toEqual([200, ""]);
    expect(head.headers["content-type"]).toBe("application/json");
    expect(Number(head.headers["content-length"])).toBeGreaterThan(100);

    const anonymous = await wire("HEAD", path);
    expect([anonymous.status, anonymous.body]).toEqual([401, ""]);
    const refusedGet = await wire("GET", path);
    expect(refusedGet.status).toBe(401);
    expect(anonymous.headers["content-length"]).toBe(refusedGet.headers["content-length"]);

    // Another tenant's job is as absent for HEAD as for GET.
    const other = await wire("HEAD", path, { authorization: `Bearer ${svc.keys.other}` });
    expect([other.status, other.body]).toEqual([404, ""]);
  });

  it("refuses HEAD where the path has no GET, naming the methods it has", async () => {
    const res = await wire("HEAD", "/v1/images/generations", { authorization: `Bearer ${svc.keys.acme}` });
    expect([res.status, res.body, res.headers.allow]).toEqual([405, "", "POST"]);
    const del = await httpClient(svc.url, svc.keys.acme).call("DELETE", "/v1/jobs");
    expect(del.status).toBe(405);
    expect(del.headers.get("allow")).toBe("POST, GET, HEAD");
  });

  it("is answered without a body by the API Lambda itself, not only by the sandbox's front", async () => {
    // API Gateway passes on what the handler returns, so the handler must drop the body.
    const api = checkedApi(apiFunction(svc.config, svc.stack.emulators.clients).handler);
    const event = (method: string): APIGatewayProxyEventV2 => ({
      version: "2.0",
      routeKey: "$default",
      rawPath: "/health",
      rawQueryString: "",
      headers: { host: "api.example" },
      requestContext: {
        accountId: "000000000000",
        apiId: "test",
        domainName: "api.example",
        domainPrefix: "api",
        http: { method, path: "/health", protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "test" },
        requestId: `head-${method}`,
        routeKey: "$default",
        stage: "$default",
        time: new Date().toUTCString(),
        timeEpoch: Date.now(),
      },
      isBase64Encoded: false,
    });
    const get = await api(event("GET"), lambdaContext("api", 30_000));
    const head = await api(event("HEAD"), lambdaContext("api", 30_000));
    expect(get.body?.length).toBeGreaterThan(0);
    expect(head).toEqual({
      ...get,
      headers: {
        ...get.headers,
        "x-request-id": "head-HEAD",
        "content-length": Buffer.byteLength(get.body ?? ""),
      },
      body: "",
    });
  });
});
