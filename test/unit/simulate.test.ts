import { describe, expect, it } from "vitest";
import { keysNeeded, peakJobsPerSecond } from "../../bench/scale/model.ts";
import { simulate } from "../../bench/scale/simulate.ts";

// `npm run simulate` (bench/scale/simulate.ts): the figures the issue names, the same for the same seed, and the
// service's fairness rule visible in them. A quarter of an hour of the peak keeps this fast.

const window = { fromHour: 16, toHour: 16.25 } as const;

describe("the scale simulation", () => {
  it("reports every figure the issue names, for every tenant", () => {
    const r = simulate({ ...window, seed: 7 });
    expect(Object.keys(r.tenants).sort()).toEqual(
      ["noisy", ...Array.from({ length: 9 }, (_, i) => `quiet-${i + 1}`)].sort(),
    );
    for (const t of Object.values(r.tenants)) {
      expect(t.queue_wait_s.p50).toBeTypeOf("number");
      expect(t.queue_wait_s.p99).toBeGreaterThanOrEqual(t.queue_wait_s.p50);
    }
    expect(r.provider_429s).toBeTypeOf("number");
    expect(r.peak_lambda_concurrency).toBeGreaterThan(0);
    expect(Object.keys(r.keys_needed_by_tier)).toEqual(["tier_1", "tier_2", "tier_3", "tier_4", "tier_5"]);
    expect(r.keys_needed_by_tier).toEqual(keysNeeded(peakJobsPerSecond));
    expect(r.cost_per_day_usd.aws).toBeGreaterThan(0);
    expect(r.cost_per_day_usd.provider).toBeGreaterThan(r.cost_per_day_usd.aws);
    // A quarter hour at 5× the mean rate: about 52,000 jobs.
    expect(r.simulated_jobs).toBeGreaterThan(45_000);
    expect(r.simulated_jobs).toBeLessThan(60_000);
  });

  it("is deterministic for a seed, and another seed gives another day", () => {
    const a = simulate({ ...window, seed: 42 });
    expect(simulate({ ...window, seed: 42 })).toEqual(a);
    expect(simulate({ ...window, seed: 43 }).simulated_jobs).not.toBe(a.simulated_jobs);
  });

  it("keeps quiet tenants ahead of the noisy one's backlog when workers are short (the fairness rule)", () => {
    // 1,800 slots: each quiet tenant needs about 137 at the peak (more in bursts), under its fair share of 180;
    // the noisy one needs about 820 and gets what is left. In arrival order (no fairness), everyone waits alike.
    const r = simulate({ ...window, seed: 3, concurrency: 1_800 });
    const noisy = r.tenants.noisy?.queue_wait_s.p99 ?? 0;
    expect(noisy).toBeGreaterThan(60);
    for (const [, t] of Object.entries(r.tenants).filter(([name]) => name !== "noisy"))
      expect(t.queue_wait_s.p99).toBeLessThanOrEqual(10);
  });

  it("meets the quiet tenants' budget at 1,250 invocations once each carries up to 10 jobs (workerBatchSize)", () => {
    // A quarter hour into the peak, one job per invocation: 1,250 invocations serve about 35 jobs/s of the 58
    // arriving, and every tenant queues. Ten per invocation: the same concurrency carries the peak.
    const peak = { fromHour: 16, toHour: 16.25, seed: 11 } as const;
    const worstQuiet = (r: ReturnType<typeof simulate>) =>
      Math.max(...Object.entries(r.tenants).flatMap(([n, t]) => (n === "noisy" ? [] : [t.queue_wait_s.p99])));
    const one = simulate({ ...peak, jobsPerInvocation: 1 });
    expect(worstQuiet(one)).toBeGreaterThan(10);
    const ten = simulate({ ...peak, jobsPerInvocation: 10 });
    expect(worstQuiet(ten)).toBeLessThanOrEqual(10);
    expect(ten.budget.met).toBe(true);
    expect(ten.peak_lambda_concurrency).toBeLessThanOrEqual(1_250);
    expect(ten.cost_per_day_usd.aws).toBeLessThan(one.cost_per_day_usd.aws);
  });

  it("holds the provider to its tier: with too few keys jobs wait, and no 429 gets through", () => {
    const r = simulate({ fromHour: 16, toHour: 16.1, seed: 5, keys: 12, concurrency: 3_000 });
    expect(r.capacity_waits).toBeGreaterThan(0);
    expect(r.provider_429s).toBe(0);
  });
});
