import { describe, expect, it } from "vitest";
import { ProviderError } from "../../lib/jobs/ports/provider.ts";
import { retryAfterOf } from "../../lib/providers/openai.ts";
import { retryDelayMs, withRetries } from "../../lib/providers/retry.ts";

describe("in-call retry policy", () => {
  it("backs off exponentially with jitter, capped at 8 s, and never sooner than Retry-After", () => {
    expect(retryDelayMs(0, undefined, () => 0)).toBe(250);
    expect(retryDelayMs(0, undefined, () => 1)).toBe(500);
    expect(retryDelayMs(1, undefined, () => 0.5)).toBe(750);
    expect(retryDelayMs(10, undefined, () => 1)).toBe(8_000);
    expect(retryDelayMs(0, 3_000, () => 1)).toBe(3_000);
  });

  it("reads retry-after-ms, retry-after in seconds, and retry-after as an HTTP date", () => {
    const now = Date.parse("2026-11-22T10:00:00Z");
    expect(retryAfterOf(new Headers({ "retry-after-ms": "1500", "retry-after": "9" }), now)).toBe(1_500);
    expect(retryAfterOf(new Headers({ "retry-after": "2.5" }), now)).toBe(2_500);
    expect(retryAfterOf(new Headers({ "retry-after": "Sun, 22 Nov 2026 10:00:30 GMT" }), now)).toBe(30_000);
    expect(retryAfterOf(new Headers({ "retry-after": "soon" }), now)).toBeUndefined();
    expect(retryAfterOf(undefined, now)).toBeUndefined();
  });

  it("retries only what can succeed, only as often as allowed, and only while a try fits before the deadline", async () => {
    const signal = new AbortController().signal;
    const failing = (errors: ProviderError[]) => {
      let calls = 0;
      const attempt = async () => {
        const err = errors[calls++];
        if (err) throw err;
        return "ok";
      };
      return { attempt, calls: () => calls };
    };
    const now = Date.now();
    const fast = { timeoutMs: 60_000, deadline: now + 60_000, signal, random: () => 0, minTryMs: 0 };

    const refused = failing([new ProviderError("content_policy_violation", "no")]);
    await expect(withRetries(refused.attempt, { ...fast, maxRetries: 2 })).rejects.toThrow("no");
    expect(refused.calls()).toBe(1);

    const flaky = failing([new ProviderError("unavailable", "down"), new ProviderError("timeout", "slow")]);
    await expect(withRetries(flaky.attempt, { ...fast, maxRetries: 2 })).resolves.toBe("ok");
    expect(flaky.calls()).toBe(3);

    const persistent = failing([1, 2, 3].map(() => new ProviderError("unavailable", "down")));
    await expect(withRetries(persistent.attempt, { ...fast, maxRetries: 1 })).rejects.toThrow("down");
    expect(persistent.calls()).toBe(2);

    // A wait that ends too close to the deadline, or longer than an attempt should idle, is the queue's.
    const late = failing([new ProviderError("unavailable", "down")]);
    await expect(
      withRetries(late.attempt, { ...fast, deadline: now + 2_000, minTryMs: 1_900, maxRetries: 2 }),
    ).rejects.toThrow("down");
    expect(late.calls()).toBe(1);
    const patient = failing([new ProviderError("rate_limited", "wait", { retryAfterMs: 30_000 })]);
    await expect(withRetries(patient.attempt, { ...fast, maxRetries: 2 })).rejects.toThrow("wait");
    expect(patient.calls()).toBe(1);
  });

  it("gives each try what is left of the deadline when that is less than its own timeout", async () => {
    const timeouts: number[] = [];
    await withRetries(
      async (timeout) => {
        timeouts.push(timeout);
        return "ok";
      },
      {
        timeoutMs: 180_000,
        deadline: Date.now() + 5_000,
        maxRetries: 0,
        signal: new AbortController().signal,
      },
    );
    expect(timeouts[0]).toBeGreaterThan(4_900);
    expect(timeouts[0]).toBeLessThanOrEqual(5_000);
  });
});
