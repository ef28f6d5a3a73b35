import { GetQueueUrlCommand, PurgeQueueCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { resourceNames } from "../../infra/resources.ts";
import { connectEmulators } from "../../infra/sandbox/emulators.ts";
import { BenchClient, newTag } from "../client.ts";
import type { BenchContext } from "../context.ts";
import { epochMs, medianOfRuns, percentile, sleep } from "../stats.ts";

// Enqueue latency: POST /v1/jobs answered (202) at a steady 50 requests per second. Open loop: each request
// leaves on schedule whether or not earlier ones have answered, so a slow answer cannot hide a backlog.
// In Lambda the API never shares a process with the workers; in the sandbox it does. So during a run the provider
// holds its calls (the workers wait, idle), and afterwards the queue is purged and the held calls are released:
// the figure is the API's own cost (auth, record, enqueue), not the API starved by 50 jobs/s of image work.

const ratePerSecond = 50;

export async function measureEnqueue(ctx: BenchContext) {
  const client = new BenchClient(ctx.sandbox);
  const emulators = connectEmulators(ctx.sandbox.emulators);
  const sqs = emulators.clients.sqs;
  const queueUrl =
    (await sqs.send(new GetQueueUrlCommand({ QueueName: resourceNames.jobsQueue }))).QueueUrl ?? "";
  const count = ctx.quick ? 50 : 150;
  const runs: { p50: number; p99: number }[] = [];
  try {
    for (let r = 0; r < ctx.repeats; r++) {
      ctx.provider.setLatency(3_600_000);
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
      await releaseHeldJobs(ctx, sqs, queueUrl);
      const run = { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
      ctx.log(`enqueue run ${r + 1}: p50 ${run.p50.toFixed(1)} ms, p99 ${run.p99.toFixed(1)} ms`);
      runs.push(run);
    }
  } finally {
    await emulators.stop();
  }
  return { ...medianOfRuns(runs), rate_per_s: ratePerSecond, requests_per_run: count };
}

async function releaseHeldJobs(ctx: BenchContext, sqs: SQSClient, queueUrl: string): Promise<void> {
  await sqs.send(new PurgeQueueCommand({ QueueUrl: queueUrl }));
  ctx.provider.setLatency(0);
  await drain(ctx);
}

/**
 * Lets the jobs a run queued finish before the next run, so runs do not load each other. The provider going
 * quiet is not enough: each released job still parses and stores its image afterwards (tens of ms of CPU each),
 * so this also waits for the sandbox's CPU to settle (under 10% busy over `quietMs`), for at most `maxMs`.
 */
export async function drain(ctx: BenchContext, quietMs = 300, maxMs = 30_000): Promise<void> {
  const until = Date.now() + maxMs;
  let seen = -1;
  let cpu = ctx.sandbox.cpuMs().sandbox;
  for (;;) {
    const requests = ctx.provider.requests.length;
    await sleep(quietMs);
    const now = ctx.sandbox.cpuMs().sandbox;
    const busy = now - cpu;
    cpu = now;
    const quiet = requests === seen && requests === ctx.provider.requests.length && busy < quietMs * 0.1;
    seen = requests;
    if (quiet) return;
    if (Date.now() > until) {
      ctx.log(`drain: the sandbox was still busy after ${maxMs / 1000} s; going on`);
      return;
    }
  }
}
