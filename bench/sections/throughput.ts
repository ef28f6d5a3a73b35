import { BenchClient, newTag } from "../client.ts";
import type { BenchContext } from "../context.ts";
import { median, sleep } from "../stats.ts";

// Throughput: jobs per second through the whole pipeline (API, DynamoDB, SQS, worker, provider at 0 ms, S3, final
// write) when more work is queued than the workers can take. `count` jobs are submitted by 32 clients at once;
// the rate is taken over the middle 80% of completions (by finished_at), leaving out ramp-up and the tail.
// The sandbox's and emulators' CPU time per job comes with it: unlike wall time, it hardly moves with noise.

export async function measureThroughput(ctx: BenchContext) {
  const client = new BenchClient(ctx.sandbox);
  ctx.provider.setLatency(0);
  const count = ctx.quick ? 100 : 240;
  const submitters = 32;
  const runs: { jobs_per_s: number; sandbox_cpu_ms_per_job: number; emulators_cpu_ms_per_job: number }[] = [];
  for (let r = 0; r < Math.max(3, Math.ceil(ctx.repeats / 2)); r++) {
    const cpuBefore = ctx.sandbox.cpuMs();
    const ids: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: submitters }, async () => {
        while (next < count) {
          next++;
          ids.push((await client.submit(newTag())).id);
        }
      }),
    );
    const finished = await waitAll(client, ids);
    const cpuAfter = ctx.sandbox.cpuMs();
    finished.sort((a, b) => a - b);
    const lo = Math.floor(count * 0.1);
    const hi = Math.ceil(count * 0.9) - 1;
    const run = {
      jobs_per_s: ((hi - lo) * 1000) / ((finished[hi] as number) - (finished[lo] as number)),
      sandbox_cpu_ms_per_job: (cpuAfter.sandbox - cpuBefore.sandbox) / count,
      emulators_cpu_ms_per_job: (cpuAfter.emulators - cpuBefore.emulators) / count,
    };
    ctx.log(
      `throughput run ${r + 1}: ${run.jobs_per_s.toFixed(1)} jobs/s, sandbox CPU ${run.sandbox_cpu_ms_per_job.toFixed(1)} ms/job`,
    );
    runs.push(run);
  }
  return {
    jobs_per_s: median(runs.map((r) => r.jobs_per_s)),
    sandbox_cpu_ms_per_job: median(runs.map((r) => r.sandbox_cpu_ms_per_job)),
    emulators_cpu_ms_per_job: median(runs.map((r) => r.emulators_cpu_ms_per_job)),
    jobs_per_run: count,
    runs: runs.length,
  };
}

/** finished_at of every job, polling only once the queue should be empty: polls would load the sandbox. */
export async function waitAll(client: BenchClient, ids: string[]): Promise<number[]> {
  const finished = new Map<string, number>();
  for (let round = 0; finished.size < ids.length; round++) {
    if (round > 600) throw new Error("throughput jobs did not finish in time");
    if (round > 0) await sleep(100);
    const pending = ids.filter((id) => !finished.has(id));
    // A few at a time: the first unfinished one means the rest are probably unfinished too.
    for (let i = 0; i < pending.length; i += 8) {
      const views = await Promise.all(pending.slice(i, i + 8).map((id) => client.get(id)));
      const done = views.filter((v) => v.status === "succeeded");
      for (const v of done) finished.set(v.id, Date.parse(v.finished_at ?? ""));
      const failed = views.find((v) => v.status === "failed");
      if (failed) throw new Error(`throughput job ${failed.id} failed: ${JSON.stringify(failed.error)}`);
      if (done.length < views.length) break;
    }
  }
  return ids.map((id) => finished.get(id) as number);
}
