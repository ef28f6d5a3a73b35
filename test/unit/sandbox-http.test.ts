import { once } from "node:events";
import { createServer, type IncomingMessage, request } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answerClientError, toApiGatewayEvent } from "../../infra/sandbox/lambda.ts";

// The sandbox's stand-in for API Gateway's front: the request target as API Gateway passes it on, and a 4xx in
// OpenAI's envelope for requests Node's HTTP parser refuses before any handler runs.

const seen: { path: string; query: string }[] = [];
const server = createServer((req: IncomingMessage, res) => {
  const event = toApiGatewayEvent(req, Buffer.alloc(0));
  seen.push({ path: event.rawPath, query: event.rawQueryString });
  res.end("ok");
});
server.on("clientError", answerClientError);
let port: number;

beforeAll(async () => {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  port = (server.address() as AddressInfo).port;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

function raw(method: string, path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => {
        body += c.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("sandbox HTTP front", () => {
  it("passes paths starting with // through as paths, never as a host", async () => {
    await raw("GET", "//////");
    await raw("GET", "//evil.example/v1/jobs?limit=1");
    expect(seen.slice(-2)).toEqual([
      { path: "//////", query: "" },
      { path: "//evil.example/v1/jobs", query: "limit=1" },
    ]);
  });

  it("answers an unknown method and oversized headers in OpenAI's envelope", async () => {
    const method = await raw("FOO", "/v1/jobs");
    expect(method.status).toBe(405);
    expect(JSON.parse(method.body)).toEqual({
      error: {
        message: expect.any(String),
        type: "invalid_request_error",
        param: null,
        code: "method_not_allowed",
      },
    });
    const big = await raw("GET", "/v1/jobs", { "x-big": "a".repeat(20_000) });
    expect(big.status).toBe(431);
    expect(JSON.parse(big.body).error.code).toBe("request_header_fields_too_large");
    // A HEAD gets the status and headers, and no body to trip the client's parser.
    expect(await raw("HEAD", `/${"a".repeat(20_000)}`)).toEqual({ status: 431, body: "" });
  });
});
