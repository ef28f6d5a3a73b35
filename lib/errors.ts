import {
  Conflict,
  DomainError,
  InvalidInput,
  LimitExceeded,
  NotFound,
  TooLarge,
  Unavailable,
} from "./jobs/errors.ts";

// Typed errors with one mapping to HTTP. Client errors carry OpenAI's envelope fields;
// anything that is not an ApiError becomes a 500 whose message reveals nothing.

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

interface ApiErrorOptions {
  param?: string | undefined;
  code?: string | undefined;
  cause?: unknown;
  headers?: Record<string, string>;
}

export class ApiError extends Error {
  override name = "ApiError";
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Record<string, string>;

  constructor(status: number, type: string, message: string, options: ApiErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = status;
    this.type = type;
    this.param = options.param ?? null;
    this.code = options.code ?? null;
    this.headers = options.headers ?? {};
  }

  toBody(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export class InvalidRequestError extends ApiError {
  override name = "InvalidRequestError";
  constructor(message: string, options: ApiErrorOptions = {}) {
    super(400, "invalid_request_error", message, options);
  }
}

export class AuthenticationError extends ApiError {
  override name = "AuthenticationError";
  constructor(
    message = "Missing or invalid API key. Send `Authorization: Bearer <key>` or `X-API-Key: <key>`.",
  ) {
    super(401, "invalid_request_error", message, { code: "invalid_api_key" });
  }
}

/** A valid key used where it has no business: a tenant key on /admin, or the admin key on a tenant route. */
export class PermissionDeniedError extends ApiError {
  override name = "PermissionDeniedError";
  constructor(message: string) {
    super(403, "invalid_request_error", message, { code: "permission_denied" });
  }
}

export class NotFoundError extends ApiError {
  override name = "NotFoundError";
  constructor(message: string, options: ApiErrorOptions = {}) {
    super(404, "invalid_request_error", message, { code: "not_found", ...options });
  }
}

export class MethodNotAllowedError extends ApiError {
  override name = "MethodNotAllowedError";
  constructor(method: string, path: string, allowed: readonly string[]) {
    super(405, "invalid_request_error", `${method} is not supported on ${path}.`, {
      code: "method_not_allowed",
      headers: { allow: allowed.join(", ") },
    });
  }
}

export class ConflictError extends ApiError {
  override name = "ConflictError";
  constructor(message: string, options: ApiErrorOptions = {}) {
    super(409, "invalid_request_error", message, { code: "conflict", ...options });
  }
}

/** Well-formed but unacceptable: an Idempotency-Key reused with a different request. */
export class UnprocessableEntityError extends ApiError {
  override name = "UnprocessableEntityError";
  constructor(message: string, options: ApiErrorOptions = {}) {
    super(422, "invalid_request_error", message, { code: "unprocessable_entity", ...options });
  }
}

export class PayloadTooLargeError extends ApiError {
  override name = "PayloadTooLargeError";
  constructor(message: string, options: ApiErrorOptions = {}) {
    super(413, "invalid_request_error", message, { code: "payload_too_large", ...options });
  }
}

export class UnsupportedMediaTypeError extends ApiError {
  override name = "UnsupportedMediaTypeError";
  constructor(message: string, options: ApiErrorOptions = {}) {
    super(415, "invalid_request_error", message, { code: "unsupported_media_type", ...options });
  }
}

export class RateLimitError extends ApiError {
  override name = "RateLimitError";
  constructor(message: string, retryAfterSeconds: number, options: ApiErrorOptions = {}) {
    super(429, "rate_limit_error", message, {
      code: "rate_limit_exceeded",
      ...options,
      headers: { ...options.headers, "retry-after": String(Math.max(1, Math.ceil(retryAfterSeconds))) },
    });
  }
}

/** The service is healthy but a dependency (queue, table, provider) failed; safe to retry. */
export class ServiceUnavailableError extends ApiError {
  override name = "ServiceUnavailableError";
  constructor(message: string, options: ApiErrorOptions = {}) {
    super(503, "server_error", message, { code: "service_unavailable", ...options });
  }
}

/** Sync requests whose job outlives the wait. The job goes on; the client polls it. */
export class SyncWaitTimeoutError extends ApiError {
  override name = "SyncWaitTimeoutError";
  constructor(jobId: string, waitedMs: number) {
    super(
      504,
      "timeout_error",
      `The image job ${jobId} did not finish within ${Math.round(waitedMs / 1000)} s. It is still running: poll GET /v1/jobs/${jobId}, or submit with POST /v1/jobs to avoid waiting.`,
      // The openai SDK retries 5xx unless told not to; a retry would start a second job.
      { code: "job_pending", headers: { "x-job-id": jobId, "x-should-retry": "false" } },
    );
  }
}

/**
 * A synchronous answer larger than AWS Lambda can return (6 MB): base64 images, mostly. The job succeeded and its
 * images are stored; the client asks for URLs instead, or reads the job. A 4xx, so SDKs do not retry it.
 */
export class ResponseTooLargeError extends ApiError {
  override name = "ResponseTooLargeError";
  constructor(bytes: number, limitBytes: number, jobId?: string) {
    const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
    super(
      400,
      "invalid_request_error",
      `The response would be ${mb(bytes)}, over the ${mb(limitBytes)} a synchronous response can carry here (AWS Lambda's limit). Ask for response_format "url" to get the images as URLs${
        jobId ? `, or read them from GET /v1/jobs/${jobId}: the job succeeded and its images are stored` : ""
      }.`,
      {
        param: "response_format",
        code: "response_too_large",
        headers: { ...(jobId && { "x-job-id": jobId }) },
      },
    );
  }
}

export function internalError(): ApiError {
  return new ApiError(500, "server_error", "The server had an error while processing your request.", {
    code: "internal_error",
  });
}

/** The one mapping from errors to HTTP: ApiErrors as they are, the core's errors by their meaning, the rest a 500. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (!(err instanceof DomainError)) return internalError();
  const options: ApiErrorOptions = {
    ...(err.param !== undefined && { param: err.param }),
    ...(err.code !== undefined && { code: err.code }),
    ...(err.cause !== undefined && { cause: err.cause }),
  };
  if (err instanceof InvalidInput) return new InvalidRequestError(err.message, options);
  if (err instanceof NotFound) return new NotFoundError(err.message, options);
  if (err instanceof Conflict) return new ConflictError(err.message, options);
  if (err instanceof TooLarge) return new PayloadTooLargeError(err.message, options);
  if (err instanceof Unavailable) return new ServiceUnavailableError(err.message, options);
  if (err instanceof LimitExceeded) {
    return new RateLimitError(err.message, err.retryAfterSeconds, {
      ...options,
      // The openai SDK would otherwise retry at once, ignoring a Retry-After of hours or days.
      ...(err.untilReset && { headers: { "x-should-retry": "false" } }),
    });
  }
  return internalError();
}
