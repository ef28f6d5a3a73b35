import type { FakeOpenAI } from "../../test/support/fake-openai.ts";
import { BenchClient, newTag, ProviderLog } from "../client.ts";
import type { BenchContext } from "../context.ts";
import type { Sandbox } from "../harness.ts";
import { epochMs, median, medianOfRuns, type Percentiles, percentiles } from "../stats.ts";

// Async overhead: what a job costs beyond the provider's own time, per job.
//   recorded: POST /v1/jobs starts (client clock) → the worker stamps finished_at (images stored in S3, the
//             final status write issued), minus the provider's time measured on the provider's side.
//   observed: the same start → the client's GET first sees `succeeded`, minus the provider's time. It adds
//             the status write and the client's polling delay (at most one poll interval plus one GET).

export interface AsyncRun {
  recorded: Percentiles;
  observed: Percentiles;
  /** Median time in each stretch of a job, from the job's own timestamps and the provider's side. */
  phases: Phases;
  jobs: number;
}

/**
 * submit: POST starts → job recorded (created_at; HTTP, auth). queue: created_at → claimed (started_at; record
 * write, SQS send and receive, claim). to_provider: claimed → provider gets the call. provider: the provider's own
 * time. store: provider answered → finished_at (response parse, conform, describe, S3 put). Millisecond stamps.
 */
export const phaseNames = ["submit", "queue", "to_provider", "provider", "store"] as const;
export type Phases = Record<(typeof phaseNames)[number], number>;

export interface AsyncLoad {
  concurrency: number;
  jobsPerClient: number;
  providerMs: number;
  /** First poll interval once the provider has answered; doubles up to maxPollMs. */
  pollMs: number;
  maxPollMs: number;
}

export async function asyncRun(sandbox: Sandbox, provider: FakeOpenAI, load: AsyncLoad): Promise<AsyncRun> {
  const client = new BenchClient(sandbox);
  provider.setLatency(load.providerMs);
  provider.requests.length = 0;
  const log = new ProviderLog(provider);
  const samples: {
    tag: string;
    start: number;
    created: number;
    started: number;
    finished: number;
    seen: number;
  }[] = [];
  try {
    await Promise.all(
      Array.from({ length: load.concurrency }, async () => {
        for (let i = 0; i < load.jobsPerClient; i++) {
          const tag = newTag();
          const start = epochMs();
          const submitted = await client.submit(tag);
          await log.answered(tag);
          const { job, seenAt } = await client.waitDone(submitted.id, load.pollMs, load.maxPollMs);
          samples.push({
            tag,
            start,
            created: Date.parse(job.created_at),
            started: Date.parse(job.started_at ?? ""),
            finished: Date.parse(job.finished_at ?? ""),
            seen: seenAt,
          });
        }
      }),
    );
  } finally {
    log.close();
  }
  const recorded: number[] = [];
  const observed: number[] = [];
  const phases: Record<keyof Phases, number[]> = {
    submit: [],
    queue: [],
    to_provider: [],
    provider: [],
    store: [],
  };

  for (const s of samples) {
    const span = log.span(s.tag);
    const p = span.end - span.start;
    recorded.push(s.finished - s.start - p);
    observed.push(s.seen - s.start - p);
    phases.submit.push(s.created - s.start);
    phases.queue.push(s.started - s.created);
    phases.to_provider.push(span.start - s.started);
    phases.provider.push(p);
    phases.store.push(s.finished - span.end);
  }
  return {
    recorded: percentiles(recorded),
    observed: percentiles(observed),
    phases: Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, median(v)])) as Phases,
    jobs: samples.length,
  };
}

/** Concurrency 1 with a 0 ms provider; concurrency 32 with a 1,000 ms provider (so 32 jobs are truly in flight). */
export async function measureAsync(ctx: BenchContext) {
  const { sandbox, provider } = ctx;
  const c1: AsyncLoad = {
    concurrency: 1,
    jobsPerClient: ctx.quick ? 10 : 30,
    providerMs: 0,
    pollMs: 2,
    maxPollMs: 2,
  };
  const c32: AsyncLoad = {
    concurrency: 32,
    jobsPerClient: ctx.quick ? 2 : 3,
    providerMs: 1000,
    pollMs: 10,
    maxPollMs: 80,
  };
  await asyncRun(sandbox, provider, { ...c1, jobsPerClient: 5 }); // warm up connections and code paths
  const result: Record<"c1" | "c32", AsyncRun[]> = { c1: [], c32: [] };
  for (const [name, load] of [
    ["c1", c1],
    ["c32", c32],
  ] as const) {
    for (let r = 0; r < ctx.repeats; r++) {
      const run = await asyncRun(sandbox, provider, load);
      ctx.log(`async ${name} run ${r + 1}: overhead p50 ${run.recorded.p50.toFixed(1)} ms`);
      result[name].push(run);
    }
  }
  const summary = (runs: AsyncRun[]) => ({
    recorded: medianOfRuns(runs.map((r) => r.recorded)),
    observed: medianOfRuns(runs.map((r) => r.observed)),
    phases: medianOfRuns(runs.map((r) => r.phases)),
    jobs_per_run: runs[0]?.jobs ?? 0,
  });
  return { c1: summary(result.c1), c32: summary(result.c32), loads: { c1, c32 } };
}
