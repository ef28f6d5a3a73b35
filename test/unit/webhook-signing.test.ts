import fc from "fast-check";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import type { ApiRequest } from "../../lib/api/http.ts";
import { deadlineOf, preferredWait } from "../../lib/api/job-options.ts";
import { parseRetryAfter, retryDelayMs } from "../../lib/webhooks/schedule.ts";
import { newSecret, webhookHeaders } from "../../lib/webhooks/signing.ts";

const request = (headers: Record<string, string>): ApiRequest => ({
  method: "POST",
  path: "/v1/jobs",
  query: new URLSearchParams(),
  headers,
  body: Buffer.alloc(0),
  requestId: "r",
});

describe("signatures", () => {
  it("verify with the reference library for any id and body, one secret or two", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.string({ unit: "grapheme" }),
        fc.boolean(),
        (id, body, rotating) => {
          const current = newSecret();
          const previous = newSecret();
          const secrets = rotating ? [current, previous] : [current];
          const ts = Math.floor(Date.now() / 1000);
          const headers = webhookHeaders(secrets, id, ts, body);
          for (const s of secrets)
            expect(() => new Webhook(s).verify(body, headers, { jsonParse: false })).not.toThrow();
          expect(() => new Webhook(newSecret()).verify(body, headers, { jsonParse: false })).toThrow(
            /signature/,
          );
        },
      ),
      { numRuns: 50 },
    );
  });

  it("makes whsec_ secrets of 32 random bytes", () => {
    const s = newSecret();
    expect(Buffer.from(s.slice("whsec_".length), "base64")).toHaveLength(32);
    expect(newSecret()).not.toBe(s);
  });
});

describe("retry schedule", () => {
  const schedule = [5, 300, 1800];

  it("follows the schedule with ±10% jitter, then stops", () => {
    expect(retryDelayMs(1, schedule, undefined, () => 0)).toBe(4_500);
    expect(retryDelayMs(1, schedule, undefined, () => 1)).toBe(5_500);
    expect(retryDelayMs(3, schedule, undefined, () => 0.5)).toBe(1_800_000);
    expect(retryDelayMs(4, schedule, undefined)).toBeUndefined();
  });

  it("never retries sooner than Retry-After, capped at a day", () => {
    expect(retryDelayMs(1, schedule, 60_000, () => 0.5)).toBe(60_000);
    expect(retryDelayMs(1, schedule, 9e9, () => 0.5)).toBe(86_400_000);
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    const now = Date.parse("2026-11-01T00:00:00Z");
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter("Sun, 01 Nov 2026 00:01:00 GMT", now)).toBe(60_000);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe("lifecycle headers", () => {
  const now = Date.parse("2026-11-01T00:00:00Z");

  it.each([
    ["90", 90_000],
    ["90s", 90_000],
    ["5m", 300_000],
    ["1h30m", 5_400_000],
    ["1.5s", 1_500],
  ])("reads Cancel-After: %s", (value, ms) => {
    expect(deadlineOf(request({ "cancel-after": value }), undefined, now)).toBe(now + ms);
  });

  it("takes the earlier of deadline and Cancel-After", () => {
    const later = new Date(now + 600_000).toISOString();
    expect(deadlineOf(request({ "cancel-after": "1m" }), later, now)).toBe(now + 60_000);
    expect(deadlineOf(request({}), later, now)).toBe(now + 600_000);
    expect(deadlineOf(request({}), undefined, now)).toBeUndefined();
  });

  it("reads Prefer: wait=N among other preferences, bounded by the maximum", () => {
    expect(preferredWait(request({ prefer: "wait=10" }), 25_000)).toEqual({ ms: 10_000, applied: "wait=10" });
    expect(preferredWait(request({ prefer: "respond-async, wait=60" }), 25_000)).toEqual({
      ms: 25_000,
      applied: "wait=25",
    });
    expect(preferredWait(request({ prefer: "wait" }), 25_000)?.applied).toBe("wait=25");
    expect(preferredWait(request({ prefer: "return=minimal" }), 25_000)).toBeUndefined();
    expect(preferredWait(request({ prefer: "wait=soon" }), 25_000)).toBeUndefined();
  });
});
