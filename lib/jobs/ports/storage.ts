import type { ImageFormat } from "../../images/types.ts";

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

/** The image store the core reads and writes (S3); failures are thrown as StorageError. */
export interface ImageStorage {
  /** How long `url` links stay valid. */
  readonly urlTtlSeconds: number;
  /** Stores `body` under `key`; `sha256` (hex) is its digest, already computed. */
  put(key: string, body: Buffer, format: ImageFormat, sha256: string): Promise<void>;
  get(key: string): Promise<Buffer>;
  /** Server-side copy; the same `to` for the same job, so a redelivered job overwrites its own copy. */
  copy(from: string, to: string): Promise<void>;
  /** Removes objects a discarded result left behind. */
  delete(keys: readonly string[]): Promise<void>;
  /** A time-limited link to the object. */
  url(key: string): Promise<string>;
}
