import { describe, expect, it } from "vitest";
import { ProviderError } from "../../lib/jobs/ports/provider.ts";
import { StorageError } from "../../lib/jobs/ports/storage.ts";
import { backoffSeconds, toJobError } from "../../lib/jobs/runner.ts";
import { toStorageError } from "../../lib/storage/errors.ts";

describe("retry policy and the failures a job records", () => {
  it("backs off exponentially with jitter, capped, and never sooner than Retry-After", () => {
    expect(backoffSeconds(1, undefined, () => 0)).toBe(3); // 5 s ceiling, half as the floor
    expect(backoffSeconds(1, undefined, () => 1)).toBe(5);
    expect(backoffSeconds(4, undefined, () => 1)).toBe(40);
    expect(backoffSeconds(20, undefined, () => 1)).toBe(300);
    expect(backoffSeconds(1, 42_000, () => 0)).toBe(42);
  });

  it("classifies provider failures: refusals and quota are final, faults are retried", () => {
    expect(new ProviderError("content_policy_violation", "no").retryable).toBe(false);
    expect(new ProviderError("insufficient_quota", "no").retryable).toBe(false);
    expect(new ProviderError("rate_limited", "slow down").retryable).toBe(true);
    expect(new ProviderError("unavailable", "down").retryable).toBe(true);
  });

  it("never puts an unexpected error's message on the job", () => {
    expect(toJobError(new Error("ECONNREFUSED 10.0.0.12:443 secret-host"))).toEqual({
      type: "server_error",
      code: "internal_error",
      message: "The job failed because of an internal error.",
    });
  });

  it("fails at once, with a code of its own, on a storage fault no retry fixes; retries the rest", () => {
    const s3Error = (name: string, status?: number) =>
      Object.assign(new Error(name), { name, ...(status && { $metadata: { httpStatusCode: status } }) });
    const cases: [unknown, string, boolean][] = [
      [s3Error("EntityTooLarge", 400), "output_too_large", false],
      [s3Error("Error", 413), "output_too_large", false],
      [s3Error("NoSuchKey", 404), "input_image_missing", false],
      [s3Error("AccessDenied", 403), "storage_refused", false],
      [s3Error("NoSuchBucket", 404), "storage_refused", false],
      [s3Error("SlowDown", 503), "internal_error", true],
      [s3Error("InternalError", 500), "internal_error", true],
      [s3Error("ECONNRESET"), "internal_error", true],
    ];
    for (const [err, code, retryable] of cases) {
      const storage = toStorageError(err, "Could not store");
      expect([storage.failure !== "unavailable" || retryable, storage.retryable]).toEqual([true, retryable]);
      expect(toJobError(storage).code).toBe(code);
    }
    // Never the store's own words (bucket, key, request ids) on the job.
    const refused = toJobError(new StorageError("rejected", "AccessDenied on arn:aws:s3:::secret-bucket"));
    expect(refused.message).not.toContain("secret-bucket");
  });
});
