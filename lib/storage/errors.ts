// What went wrong with the image store, in the terms callers act on: whether a retry can help.

/**
 * - too_large: the store refuses an object of this size; the same object will be refused again;
 * - not_found: the object is not there (expired, deleted, or never uploaded);
 * - rejected: any other refusal (access denied, no such bucket, a bad argument): a fault of configuration or
 *   code that no retry fixes;
 * - unavailable: throttling, 5xx, timeouts and network faults: retrying later may succeed.
 */
export type StorageFailure = "too_large" | "not_found" | "rejected" | "unavailable";

export class StorageError extends Error {
  override name = "StorageError";
  readonly failure: StorageFailure;
  /** The store's own error code (AccessDenied, SlowDown...), for logs; never shown to clients. */
  readonly storeCode: string | undefined;

  constructor(
    failure: StorageFailure,
    message: string,
    options: { cause?: unknown; storeCode?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.failure = failure;
    this.storeCode = options.storeCode;
  }

  get retryable(): boolean {
    return this.failure === "unavailable";
  }
}

interface SdkErrorShape {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

const transientCodes = new Set([
  "SlowDown",
  "ServiceUnavailable",
  "InternalError",
  "RequestTimeout",
  "RequestTimeTooSkewed",
  "OperationAborted",
  "Throttling",
  "ThrottlingException",
  "TooManyRequestsException",
  "TimeoutError",
  "AbortError",
]);

/** Classifies an S3 SDK error (or a network fault) by whether the same request could succeed later. */
export function toStorageError(err: unknown, what: string): StorageError {
  if (err instanceof StorageError) return err;
  const e = (err ?? {}) as SdkErrorShape;
  const code = e.Code ?? e.name;
  const status = e.$metadata?.httpStatusCode;
  const failure: StorageFailure =
    code === "EntityTooLarge" || status === 413
      ? "too_large"
      : code === "NoSuchKey" || code === "NotFound"
        ? "not_found"
        : status === undefined ||
            status >= 500 ||
            [408, 409, 429].includes(status) ||
            (code !== undefined && transientCodes.has(code)) ||
            e.$retryable !== undefined
          ? "unavailable"
          : "rejected";
  return new StorageError(failure, `${what}: ${failure}${code ? ` (${code})` : ""}`, {
    cause: err,
    ...(code !== undefined && { storeCode: code }),
  });
}
