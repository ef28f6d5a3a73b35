import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
  SQSBatchResponse,
  SQSEvent,
} from "aws-lambda";

import { ApiError } from "../../lib/errors.ts";

// Stand-ins for what Lambda and API Gateway do around a handler, so the sandbox runs the real handlers unchanged.

export type HttpHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;
export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;

export function lambdaContext(functionName: string, timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs;
  const requestId = randomUUID();
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: "1024",
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "sandbox",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

const textual = /^(application\/(json|x-www-form-urlencoded|xml)|text\/)|\+json/i;

/** API Gateway HTTP API payload 2.0, as it would reach the API Lambda. */
export function toApiGatewayEvent(req: IncomingMessage, body: Buffer): APIGatewayProxyEventV2 {
  // Split by hand, as API Gateway does: `new URL` throws on "//" and reads "//host/path" as a host.
  const target = req.url ?? "/";
  const q = target.indexOf("?");
  const url = { pathname: q < 0 ? target : target.slice(0, q), search: q < 0 ? "" : target.slice(q) };
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined && k !== "cookie") headers[k] = Array.isArray(v) ? v.join(",") : v;
  }
  const contentType = headers["content-type"] ?? "";
  const base64 = body.length > 0 && !textual.test(contentType);
  const now = Date.now();
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    ...(req.headers.cookie && { cookies: req.headers.cookie.split("; ") }),
    headers,
    requestContext: {
      accountId: "000000000000",
      apiId: "sandbox",
      domainName: headers.host ?? "localhost",
      domainPrefix: "sandbox",
      http: {
        method: req.method ?? "GET",
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    ...(body.length > 0 && { body: body.toString(base64 ? "base64" : "utf8") }),
    isBase64Encoded: base64,
  };
}

export function writeResult(res: ServerResponse, result: APIGatewayProxyStructuredResultV2): void {
  const body = result.body
    ? Buffer.from(result.body, result.isBase64Encoded ? "base64" : "utf8")
    : Buffer.alloc(0);
  res.statusCode = result.statusCode ?? 200;
  for (const [k, v] of Object.entries(result.headers ?? {})) res.setHeader(k, String(v));
  if (result.cookies?.length) res.setHeader("set-cookie", result.cookies);
  // A HEAD answer declares the length GET's body would have (lib/api/http.ts headResult); Node sends no body.
  const declared = res.req?.method === "HEAD" ? result.headers?.["content-length"] : undefined;
  res.setHeader("content-length", declared === undefined ? body.length : String(declared));
  res.end(body);
}

/**
 * What API Gateway answers for requests that never reach a handler (an unknown method, headers or a request
 * line too large, broken HTTP): a 4xx in OpenAI's envelope, where Node's server would write an empty 400.
 * Use as the server's `clientError` listener.
 */
export function answerClientError(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Duplex): void {
  if (err.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, code, message] =
    err.code === "HPE_HEADER_OVERFLOW"
      ? [431, "request_header_fields_too_large", "The request line and headers are too large."]
      : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "request_timeout", "The request took too long to arrive."]
        : err.code === "HPE_INVALID_METHOD"
          ? [405, "method_not_allowed", "The request method is not supported."]
          : [400, "malformed_request", "The request is not valid HTTP."];
  const body = JSON.stringify(new ApiError(status, "invalid_request_error", message, { code }).toBody());
  // Half-close and keep reading what the client still sends, so it reads this answer instead of a reset.
  socket.on("error", () => socket.destroy());
  socket.resume();
  // A HEAD request gets the headers alone, as HTTP requires.
  const head = err.rawPacket?.subarray(0, 5).toString("latin1") === "HEAD ";
  socket.end(
    `HTTP/1.1 ${status} ${code}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${head ? "" : body}`,
  );
}
