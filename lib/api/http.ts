import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { InvalidRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from "../errors.ts";

export interface ApiRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: Buffer;
  requestId: string;
}

export interface ApiResponse {
  status: number;
  /** JSON, or a Buffer sent as it is (static files; set its content-type). */
  body?: unknown;
  /** A body already serialised (HTML, a prebuilt document): sent as it is, with the content-type in `headers`. */
  text?: string;
  headers?: Record<string, string>;
  /**
   * A Server-Sent Events body (put its content-type in `headers`): chunks of text, sent as they come where the
   * front door streams (the Function URL, RESPONSE_STREAM), and whole once the last has come behind the HTTP API,
   * which cannot stream. Errors after the first chunk are the producer's to report in the stream.
   */
  events?: AsyncIterable<string>;
}

export function toRequest(event: APIGatewayProxyEventV2, maxBytes: number): ApiRequest {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = v;
  const raw = event.body ?? "";
  // Check the encoded length first so an oversized body is refused before it is decoded.
  const approxBytes = event.isBase64Encoded ? Math.floor((raw.length * 3) / 4) : Buffer.byteLength(raw);
  if (approxBytes > maxBytes + 3) {
    throw new PayloadTooLargeError(
      `The request body is larger than the ${Math.floor(maxBytes / 1024 / 1024)} MB limit.`,
    );
  }
  return {
    method: event.requestContext.http.method.toUpperCase(),
    path: event.rawPath,
    query: new URLSearchParams(event.rawQueryString ?? ""),
    headers,
    body: event.isBase64Encoded ? Buffer.from(raw, "base64") : Buffer.from(raw, "utf8"),
    requestId: event.requestContext.requestId,
  };
}

export function toResult(res: ApiResponse, requestId: string): APIGatewayProxyStructuredResultV2 {
  if (Buffer.isBuffer(res.body)) {
    return {
      statusCode: res.status,
      headers: { "x-request-id": requestId, ...res.headers },
      body: res.body.toString("base64"),
      isBase64Encoded: true,
    };
  }
  const hasBody = res.body !== undefined;
  return {
    statusCode: res.status,
    headers: {
      ...(hasBody && { "content-type": "application/json" }),
      "x-request-id": requestId,
      ...res.headers,
    },
    body: res.text ?? (hasBody ? JSON.stringify(res.body) : ""),
    isBase64Encoded: false,
  };
}

/**
 * AWS Lambda's ceiling on a synchronous invocation's response (6 MB), which API Gateway's HTTP API and a buffered
 * Function URL both inherit: a larger answer never reaches the client, who gets a bare 502 instead.
 */
export const lambdaResponseLimitBytes = 6 * 1024 * 1024;

/**
 * The bytes Lambda counts for `result` (the handler's result, serialised as JSON) when they are over its limit;
 * undefined when it fits. Serialised only when it could matter: a character takes at most 6 bytes there (a
 * control character's \u escape), and headers far less than the margin.
 */
export function lambdaOverflow(result: APIGatewayProxyStructuredResultV2): number | undefined {
  if ((result.body?.length ?? 0) * 6 + 65_536 < lambdaResponseLimitBytes) return undefined;
  const bytes = Buffer.byteLength(JSON.stringify(result));
  return bytes > lambdaResponseLimitBytes ? bytes : undefined;
}

/**
 * The answer to HEAD: GET's status and headers, Content-Length included, without the body (RFC 9110 9.3.2).
 * Errors too: a HEAD refused with 401 or 405 carries no envelope.
 */
export function headResult(result: APIGatewayProxyStructuredResultV2): APIGatewayProxyStructuredResultV2 {
  const length = result.body ? Buffer.byteLength(result.body, result.isBase64Encoded ? "base64" : "utf8") : 0;
  return {
    ...result,
    headers: { ...result.headers, "content-length": length },
    body: "",
    isBase64Encoded: false,
  };
}

/** Parses a JSON body. The content-type must say JSON; the body must be an object. */
export function jsonBody(req: ApiRequest): Record<string, unknown> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (type !== "application/json" && !type.endsWith("+json")) {
    throw new UnsupportedMediaTypeError(
      `Expected Content-Type: application/json${type ? `, got '${type}'` : ""}.`,
    );
  }
  if (req.body.length === 0)
    throw new InvalidRequestError("The request body is empty; expected a JSON object.");
  let value: unknown;
  try {
    value = JSON.parse(req.body.toString("utf8"));
  } catch {
    throw new InvalidRequestError("The request body is not valid JSON.", { code: "invalid_json" });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidRequestError("The request body must be a JSON object.");
  }
  return value as Record<string, unknown>;
}
