import { StorageError, type StorageFailure } from "../jobs/ports/storage.ts";

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
