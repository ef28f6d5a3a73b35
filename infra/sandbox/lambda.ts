import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { type Duplex, Writable } from "node:stream";
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
  SQSBatchResponse,
  SQSEvent,
} from "aws-lambda";

import type { ResponseStreamHandler } from "../../lib/api/app.ts";
import { ApiError, internalError } from "../../lib/errors.ts";

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

// --- Response streaming: what a Function URL with InvokeMode RESPONSE_STREAM and the Lambda runtime do -----------

interface Prelude {
  statusCode?: number;
  headers?: Record<string, string>;
  cookies?: string[];
}

/**
 * The response stream Lambda hands a streaming handler, writing to the HTTP response: the prelude (status and
 * headers, from `awslambda.HttpResponseStream.from`) first, then the body as it is written. A client that goes
 * away destroys it, as Lambda's does, so the handler stops producing.
 */
class ResponseStream extends Writable {
  readonly #res: ServerResponse;

  constructor(res: ServerResponse) {
    super();
    this.#res = res;
    res.once("close", () => {
      if (!res.writableFinished) this.destroy(new Error("The client closed the connection."));
    });
  }

  prelude(p: Prelude): void {
    if (this.#res.headersSent) return;
    this.#res.statusCode = p.statusCode ?? 200;
    for (const [k, v] of Object.entries(p.headers ?? {})) this.#res.setHeader(k, v);
    if (p.cookies?.length) this.#res.setHeader("set-cookie", p.cookies);
    // Headers go out now, before the first byte of the body, as Lambda sends its prelude.
    this.#res.flushHeaders();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    if (!this.#res.headersSent) this.prelude({ headers: { "content-type": "application/octet-stream" } });
    if (chunk.length === 0) done();
    else this.#res.write(chunk, (err) => done(err ?? null));
  }

  override _final(done: (err?: Error | null) => void): void {
    if (!this.#res.headersSent) this.prelude({});
    this.#res.end(() => done());
  }
}

/**
 * Defines the global `awslambda` that the Lambda runtime gives RESPONSE_STREAM functions (middy's
 * streamifyResponse calls it when the handler module loads): call before importing such a handler.
 */
export function installResponseStreaming(): void {
  // The AWS SDK's invoke store may have made the object already (for its own use): add to it.
  const global = globalThis as { awslambda?: Record<string, unknown> };
  global.awslambda ??= {};
  const runtime = global.awslambda;
  runtime.streamifyResponse ??= <T>(handler: T) => handler;
  runtime.HttpResponseStream ??= {
    from(stream: ResponseStream, prelude: Prelude) {
      stream.prelude(prelude);
      return stream;
    },
  };
}

/** Serves one HTTP request with a RESPONSE_STREAM handler, as a Function URL does. */
export async function respondStreaming(
  handler: ResponseStreamHandler,
  event: APIGatewayProxyEventV2,
  res: ServerResponse,
  context: Context,
): Promise<void> {
  const stream = new ResponseStream(res);
  try {
    await handler(event, stream, context);
  } catch (err) {
    if (res.writableEnded || res.destroyed) return; // the client left: the handler stopped because of it
    if (res.headersSent) {
      res.destroy(err instanceof Error ? err : undefined);
      return;
    }
    // What a Function URL answers for a handler that threw before its prelude: a 502 with no detail.
    const e = internalError();
    writeResult(res, {
      statusCode: 502,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(e.toBody()),
    });
  }
}
