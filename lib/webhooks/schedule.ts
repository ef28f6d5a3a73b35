// When to try a webhook again: Standard Webhooks' schedule (configurable), with jitter, never sooner than the
// receiver's own Retry-After.

/** A Retry-After beyond this is read as "a day": the longest wait in the spec's schedule. */
const maxRetryAfterMs = 24 * 3600 * 1000;

/**
 * Milliseconds to wait after `attemptsMade` attempts, or undefined when the schedule is used up.
 * `schedule` holds seconds: schedule[0] is the wait before the second attempt.
 */
export function retryDelayMs(
  attemptsMade: number,
  schedule: readonly number[],
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number | undefined {
  const base = schedule[attemptsMade - 1];
  if (base === undefined) return undefined;
  // ±10%, so a crowd of events failing together does not retry together.
  const jittered = base * 1000 * (0.9 + random() * 0.2);
  return Math.round(Math.max(jittered, Math.min(retryAfterMs ?? 0, maxRetryAfterMs)));
}

/** Retry-After as seconds or as an HTTP date (RFC 9110), in milliseconds from `now`. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw) return undefined;
  if (/^\s*\d+\s*$/.test(raw)) return Number(raw) * 1000;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
