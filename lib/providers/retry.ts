import { setTimeout as sleep } from "node:timers/promises";
import { ProviderError } from "../jobs/ports/provider.ts";

// Retries of a provider call within one job attempt. Only what can succeed on a second try is retried
// (ProviderError.retryable: 429 rate limits, 5xx, timeouts, connection failures), and only while the try
// can still finish before the deadline, the moment the worker must stop to record the outcome. Anything
// longer (a Retry-After of minutes, an almost spent invocation) is handed back to the queue, whose backoff
// honours the same Retry-After without keeping a Lambda waiting.

export interface RetryOptions {
  /** Retries after the first try. */
  maxRetries: number;
  /** One try's own timeout. */
  timeoutMs: number;
  /** Epoch ms by which every try must be over; defaults to one timeout from now. */
  deadline?: number | undefined;
  signal: AbortSignal;
  /** A retry that must wait longer than this is left to the queue. */
  maxWaitMs?: number;
  /** A try with less time than this left is not worth starting. */
  minTryMs?: number;
  random?: () => number;
  now?: () => number;
}

const baseDelayMs = 500;
const maxDelayMs = 8_000;

/** Exponential backoff with jitter (half fixed, half random), never sooner than the provider's Retry-After. */
export function retryDelayMs(retry: number, retryAfterMs: number | undefined, random = Math.random): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** retry);
  return Math.max(ceiling / 2 + random() * (ceiling / 2), retryAfterMs ?? 0);
}

/** Runs `attempt(timeoutMs)` until it succeeds, fails for good, or no further try fits before the deadline. */
export async function withRetries<T>(
  attempt: (timeoutMs: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const now = options.now ?? Date.now;
  const deadline = options.deadline ?? now() + options.timeoutMs;
  const maxWaitMs = options.maxWaitMs ?? 10_000;
  const minTryMs = options.minTryMs ?? 2_000;
  for (let retry = 0; ; retry++) {
    const left = deadline - now();
    try {
      return await attempt(Math.max(1, Math.min(options.timeoutMs, left)));
    } catch (err) {
      if (!(err instanceof ProviderError) || !err.retryable || retry >= options.maxRetries) throw err;
      if (options.signal.aborted) throw err;
      const wait = retryDelayMs(retry, err.retryAfterMs, options.random);
      if (wait > maxWaitMs || now() + wait + minTryMs > deadline) throw err;
      await sleep(wait, undefined, { signal: options.signal }).catch(() => {
        throw err; // the budget ran out while waiting: the queue retries it
      });
    }
  }
}
