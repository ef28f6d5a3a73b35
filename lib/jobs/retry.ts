// Retrying SQS work later: shared by the job worker and the webhook deliverer.

/** The work is fine but cannot be done now; its message comes back after `delaySeconds`. */
export class RetryLaterError extends Error {
  override name = "RetryLaterError";
  readonly delaySeconds: number;
  constructor(message: string, delaySeconds: number, options?: { cause?: unknown }) {
    super(message, options);
    this.delaySeconds = delaySeconds;
  }
}

/** Exponential backoff with full jitter, never below the provider's own Retry-After. */
export function backoffSeconds(
  attempt: number,
  retryAfterMs: number | undefined,
  random = Math.random,
): number {
  const ceiling = Math.min(300, 5 * 2 ** Math.max(0, attempt - 1));
  const jittered = ceiling / 2 + random() * (ceiling / 2);
  return Math.ceil(Math.max(jittered, (retryAfterMs ?? 0) / 1000));
}
