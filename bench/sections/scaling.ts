import { loadavg } from "node:os";
import { startFakeOpenAI } from "../../test/support/fake-openai.ts";
import { BenchClient, newTag } from "../client.ts";
import type { BenchContext } from "../context.ts";
import { providerKey, type Sandbox, startBenchSandbox, startChild } from "../harness.ts";
import { medianOfRuns } from "../stats.ts";
import { asyncRun } from "./async.ts";
import { waitAll } from "./throughput.ts";

// Throughput as Lambda scales (issue 16 §5): the API in one process (the sandbox with RUN_WORKER=false) and N
// worker processes of their own, each the worker Lambda behind its event source mapping, on shared emulators.
// On this 2-core machine N processes cannot add CPU, so the measurement is about what Lambda scales: instances
// that wait on the provider. The fake provider takes 500 ms, each worker holds `perWorker` jobs at once (as that
// many Lambda instances would) and reads nothing ahead (WORKER_LOOKAHEAD=0: Lambda's poller hands a message to a
// free instance only). The ideal is N × perWorker / 0.5 s jobs per second; what the API, the queue and DynamoDB
// serialise shows as the shortfall. CPU per job is small (cpu_ms_per_job), so 4 workers stay under 2 cores.

const providerMs = 500;
const perWorker = 4;

export async function measureScaling(ctx: BenchContext) {
  // A flat 1024² image: decoding and checking the photo-like one costs the worker CPU that two cores cannot
  // multiply, and what is measured here is how waiting scales out (the pipeline section measures image CPU).
  const provider = await startFakeOpenAI({ texture: "flat" });
  const sandbox = await startBenchSandbox(provider, { RUN_WORKER: "false" });
  const scaled = { ...ctx, provider };
  try {
    const throughput: Record<string, number> = {};
    for (const n of [1, 2, 4]) {
      const stop = await startWorkers(scaled, sandbox, n, perWorker);
      try {
        throughput[`workers_${n}`] = await throughputRun(scaled, sandbox, n);
      } finally {
        await stop();
      }
      ctx.log(`scaling: ${n} worker(s), ${throughput[`workers_${n}`]?.toFixed(1)} jobs/s`);
    }
    // 32 jobs in flight over 4 workers (8 instances each), a 1,000 ms provider: the c32 overhead, scaled out.
    const stop = await startWorkers(scaled, sandbox, 4, 8);
    try {
      const load = {
        concurrency: 32,
        jobsPerClient: ctx.quick ? 2 : 3,
        providerMs: 1000,
        pollMs: 10,
        maxPollMs: 80,
      };
      await asyncRun(sandbox, provider, { ...load, jobsPerClient: 1 }); // warm up
      const runs = [];
      for (let r = 0; r < ctx.repeats; r++) runs.push(await asyncRun(sandbox, provider, load));
      const overhead = medianOfRuns(runs.map((r) => r.recorded));
      // Where the time goes (medians): what a missed budget is measured against.
      const phases = medianOfRuns(runs.map((r) => r.phases));
      ctx.log(
        `scaling: c32 over 4 workers, overhead p50 ${overhead.p50.toFixed(1)} ms, p99 ${overhead.p99.toFixed(1)} ms`,
      );
      return {
        throughput_jobs_per_s: throughput,
        async_overhead_ms_c32_workers_4: { p50: overhead.p50, p99: overhead.p99 },
        async_phases_ms_c32_workers_4: phases,
        settings: {
          provider_ms: providerMs,
          jobs_in_flight_per_worker: perWorker,
          ideal_jobs_per_s_per_worker: (perWorker * 1000) / providerMs,
          c32: "4 workers × 8 in flight, 1,000 ms provider",
          provider_image: "1024×1024 PNG, flat colour",
          load_average_1m: loadavg()[0],
        },
      };
    } finally {
      await stop();
    }
  } finally {
    await sandbox.stop();
    await provider.close();
  }
}

async function startWorkers(
  ctx: BenchContext,
  sandbox: Sandbox,
  n: number,
  concurrency: number,
): Promise<() => Promise<void>> {
  const workers = await Promise.all(
    Array.from({ length: n }, () =>
      startChild<{ pid: number }>("worker.ts", [JSON.stringify(sandbox.emulators)], {
        OPENAI_API_KEY: providerKey,
        OPENAI_BASE_URL: ctx.provider.baseURL,
        WORKER_CONCURRENCY: String(concurrency),
        WORKER_LOOKAHEAD: "0",
        PROVIDER_MAX_RETRIES: "0",
        LOG_LEVEL: "warn",
        LOG_FORMAT: "json",
      }),
    ),
  );
  return async () => {
    await Promise.all(workers.map((w) => w.stop()));
  };
}

/** Jobs per second over the middle 80% of completions, 32 clients submitting `n × 60` jobs at once. */
async function throughputRun(ctx: BenchContext, sandbox: Sandbox, n: number): Promise<number> {
  const client = new BenchClient(sandbox);
  ctx.provider.setLatency(providerMs);
  const count = n * (ctx.quick ? 24 : 60);
  const ids: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < count) {
        next++;
        ids.push((await client.submit(newTag())).id);
      }
    }),
  );
  const finished = (await waitAll(client, ids)).sort((a, b) => a - b);
  const lo = Math.floor(count * 0.1);
  const hi = Math.ceil(count * 0.9) - 1;
  return ((hi - lo) * 1000) / ((finished[hi] as number) - (finished[lo] as number));
}
