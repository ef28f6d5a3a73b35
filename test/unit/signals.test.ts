import { describe, expect, it } from "vitest";
import type { Job } from "../../lib/jobs/model.ts";
import { announceSettled, watchSettled } from "../../lib/jobs/signals.ts";

describe("settle signals", () => {
  it("wakes a waiter for a job that settled while it was reading the record, before it began to wait", async () => {
    const watch = watchSettled("job_a");
    announceSettled("job_a"); // e.g. during the waiter's DynamoDB read
    const started = Date.now();
    await watch.wait(20_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    watch.close();
  });

  it("wakes a waiting waiter at once, and only for its own job", async () => {
    const watch = watchSettled("job_b");
    const waiting = watch.wait(20_000);
    announceSettled("job_other");
    let woke = false;
    void waiting.then(() => {
      woke = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(woke).toBe(false);
    announceSettled("job_b");
    await waiting;
    watch.close();
  });

  it("gives up after the timeout when nothing settles", async () => {
    const watch = watchSettled("job_c");
    const started = Date.now();
    await watch.wait(30);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    watch.close();
  });

  it("hands the waiter the settled record the announcer gave, keeping the first", () => {
    const watch = watchSettled("job_d");
    expect(watch.settled).toBeUndefined();
    const record = { id: "job_d", status: "succeeded" } as Job;
    announceSettled("job_d", record);
    announceSettled("job_d");
    expect(watch.settled).toBe(record);
    watch.close();
  });
});
