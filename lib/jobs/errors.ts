// What went wrong in the core, in its own terms: no status codes, no envelopes. The HTTP edge maps these onto
// its errors (toApiError in lib/errors.ts); the inbox records them as failed jobs (jobErrorOf).

import type { JobError } from "./model.ts";

interface Details {
  /** The request field at fault, as the client named it (`image[1]`, `input.model`). */
  param?: string | undefined;
  /** A stable machine-readable reason (`model_not_found`, `concurrency_limit_exceeded`). */
  code?: string | undefined;
  cause?: unknown;
}

export abstract class DomainError extends Error {
  readonly param: string | undefined;
  readonly code: string | undefined;

  constructor(message: string, details: Details = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.param = details.param;
    this.code = details.code;
  }
}

/** A value the service cannot accept; sending it again gives the same answer. */
export class InvalidInput extends DomainError {
  override name = "InvalidInput";
}

/** A thing the request names (a model, a job) does not exist for this caller. */
export class NotFound extends DomainError {
  override name = "NotFound";
}

/** The request contradicts the current state (a finished job canceled, a rotation raced). */
export class Conflict extends DomainError {
  override name = "Conflict";
}

/** Larger than the service accepts. */
export class TooLarge extends DomainError {
  override name = "TooLarge";
}

/** A dependency (table, queue, bucket) failed; the same request may succeed later. */
export class Unavailable extends DomainError {
  override name = "Unavailable";
}

/** A quota, rate limit or budget is used up until `retryAfterSeconds` from now. */
export class LimitExceeded extends DomainError {
  override name = "LimitExceeded";
  readonly retryAfterSeconds: number;
  /** The allowance comes back only when its period resets (a day, a month): retrying sooner cannot help. */
  readonly untilReset: boolean;

  constructor(message: string, retryAfterSeconds: number, details: Details & { untilReset?: boolean } = {}) {
    super(message, details);
    this.retryAfterSeconds = retryAfterSeconds;
    this.untilReset = details.untilReset ?? false;
  }
}

/**
 * A domain error as the failure of the job it stopped; undefined when a later attempt may succeed (Unavailable).
 * `fallbackCode` stands for an invalid input that names no code of its own.
 */
export function jobErrorOf(err: DomainError, fallbackCode: string): JobError | undefined {
  if (err instanceof Unavailable) return undefined;
  if (err instanceof LimitExceeded) {
    return { type: "rate_limit_error", code: err.code ?? "rate_limit_exceeded", message: err.message };
  }
  const kindCode =
    err instanceof NotFound
      ? "not_found"
      : err instanceof Conflict
        ? "conflict"
        : err instanceof TooLarge
          ? "payload_too_large"
          : fallbackCode;
  return { type: "invalid_request_error", code: err.code ?? kindCode, message: err.message };
}
