import { BenchClient, newTag } from "../client.ts";
import type { BenchContext } from "../context.ts";
import { epochMs, medianOfRuns, percentile, sleep } from "../stats.ts";

// Enqueue latency: POST /v1/jobs answered (202) at a steady 50 requests per second. Open loop: each request
// leaves on schedule whether or not earlier ones have answered, so a slow answer cannot hide a backlog.
// The jobs run meanwhile (0 ms provider), as they would in service.

const ratePerSecond = 50;

export async function measureEnqueue(ctx: BenchContext) {
  const client = new BenchClient(ctx.sandbox);
  ctx.provider.setLatency(0);
  const count = ctx.quick ? 50 : 150;
  const runs: { p50: number; p99: number }[] = [];
  for (let r = 0; r < ctx.repeats; r++) {
    const latencies: number[] = [];
    const started = epochMs();
    const sent: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const due = started + (i * 1000) / ratePerSecond;
      const wait = due - epochMs();
      if (wait > 0) await sleep(wait);
      sent.push(
        (async () => {
          const t = epochMs();
          await client.submit(newTag());
          latencies.push(epochMs() - t);
        })(),
      );
    }
    await Promise.all(sent);
    const run = { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
    ctx.log(`enqueue run ${r + 1}: p50 ${run.p50.toFixed(1)} ms, p99 ${run.p99.toFixed(1)} ms`);
    runs.push(run);
    await drain(ctx);
  }
  return { ...medianOfRuns(runs), rate_per_s: ratePerSecond, requests_per_run: count };
}

/** Lets the jobs a run queued finish before the next run, so runs do not load each other. */
export async function drain(ctx: BenchContext, quietMs = 300): Promise<void> {
  let seen = -1;
  while (seen !== ctx.provider.requests.length) {
    seen = ctx.provider.requests.length;
    await sleep(quietMs);
  }
}
