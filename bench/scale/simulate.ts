import { FairBuffer } from "../../infra/sandbox/fair-buffer.ts";
import { prices } from "../../lib/catalog/prices.ts";
import {
  bucketsPerWindow,
  byLoad,
  hasRoom,
  type KeyState,
  keyLoad,
  type ProviderKeyLimit,
  penaltyFrom,
  taken,
  waitSeconds,
} from "../../lib/limits/provider-rate.ts";
import {
  awsPrices,
  dayShape,
  keysNeeded,
  latencyClass,
  meanJobsPerSecond,
  meanLatencyS,
  peakJobsPerSecond,
  target,
  tiers,
} from "./model.ts";

// A discrete-event simulation of one day at the target load, in simulated time. It drives the service's own
// fairness rule (FairBuffer: the tenant with the fewest jobs in flight goes next, as SQS fair queues do with
// MessageGroupId) and the provider limiter's own window arithmetic (keyLoad, hasRoom, taken, byLoad, waitSeconds
// from lib/limits/provider-rate.ts, with the key states in memory instead of DynamoDB). A worker slot is a Lambda
// invocation: it takes a job, asks the limiter, and either holds the slot for the provider's latency or sends the
// job back delayed (as CapacityWaitError does) and ends. The provider enforces its tier per key on a sliding minute
// and answers 429 past it; a 429 penalizes the key, as the worker does.

export interface SimulationOptions {
  seed: number;
  /** Lambda concurrency available to the worker (SQS event source: at most 1,250). */
  concurrency: number;
  tier: keyof typeof tiers;
  /** Keys pooled at that tier; default: enough for the peak (keysNeeded). */
  keys?: number;
  /** Simulated span, in hours from midnight (the peak is 16:00–18:00). */
  fromHour: number;
  toHour: number;
  /** The worker's memory, for Lambda GB-seconds. */
  workerMemoryGb: number;
  /**
   * Jobs per worker invocation (the event source's batch size, the stack's workerBatchSize): the invocation runs
   * them at once (lib/middleware/batch.ts, Powertools BatchProcessor) and holds one unit of concurrency until the slowest ends. The event
   * source hands over what is waiting, up to this many, with no batching window.
   */
  jobsPerInvocation: number;
}

export const defaultOptions: SimulationOptions = {
  seed: 1,
  concurrency: 1_250,
  tier: "tier_5",
  fromHour: 0,
  toHour: 24,
  workerMemoryGb: 2,
  jobsPerInvocation: 1,
};

/** The time an invocation spends around the provider call (claim, store, record) or on a capacity wait. */
const overheadS = 0.4;
const waitInvocationS = 0.05;
/** The SDK's Retry-After on a 429 that got through: the job comes back after this. */
const retryAfter429S = 2;

interface Job {
  tenant: string;
  arrivedS: number;
  latencyS: number;
  quality: "low" | "medium" | "high";
}

type Event =
  | { kind: "arrive"; job: Job }
  | { kind: "ready"; job: Job }
  /** An invocation ends: its messages are settled, its unit of concurrency is free. */
  | { kind: "end"; tenants: string[] };

/** A binary heap of events by time, ties in insertion order (determinism). */
class EventQueue {
  readonly #heap: { t: number; seq: number; e: Event }[] = [];
  #seq = 0;
  get size() {
    return this.#heap.length;
  }
  push(t: number, e: Event) {
    const h = this.#heap;
    h.push({ t, seq: this.#seq++, e });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[p] as never, h[i] as never)) break;
      [h[p], h[i]] = [h[i] as never, h[p] as never];
      i = p;
    }
  }
  pop(): { t: number; e: Event } | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (!top || !last) return undefined;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l] as never, h[m] as never)) m = l;
        if (r < h.length && less(h[r] as never, h[m] as never)) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i] as never, h[m] as never];
        i = m;
      }
    }
    return top;
  }
}
const less = (a: { t: number; seq: number }, b: { t: number; seq: number }) =>
  a.t < b.t || (a.t === b.t && a.seq < b.seq);

/** mulberry32: a small seeded generator, so a seed gives the same day every time. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const percentile = (sorted: Float64Array | number[], p: number) =>
  sorted.length === 0
    ? 0
    : (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0);

export interface SimulationResult {
  scenario: Record<string, unknown>;
  tenants: Record<string, { jobs: number; queue_wait_s: { p50: number; p99: number } }>;
  provider_429s: number;
  peak_lambda_concurrency: number;
  keys_needed_by_tier: Record<string, number>;
  cost_per_day_usd: { aws: number; provider: number };
  budget: { quiet_p99_s_max: number; worst_quiet_p99_s: number; met: boolean; over_by_s: number };
  simulated_jobs: number;
  capacity_waits: number;
}

export function simulate(options: Partial<SimulationOptions> = {}): SimulationResult {
  const o = { ...defaultOptions, ...options };
  const rand = random(o.seed);
  const needed = keysNeeded(peakJobsPerSecond * target.imagesPerJob);
  const keyCount = o.keys ?? needed[o.tier];
  const ipm = tiers[o.tier];
  const pool: ProviderKeyLimit[] = Array.from({ length: keyCount }, (_, i) => ({
    name: `${o.tier}-${i}`,
    images_per_window: ipm,
    window_seconds: 60,
  }));
  const states: KeyState[] = pool.map(() => ({ v: 0 }));
  /** The provider's own view: call times per key in the last minute (its tier is enforced there). */
  const providerCalls: number[][] = pool.map(() => []);
  const tenants = ["noisy", ...Array.from({ length: target.quietTenants }, (_, i) => `quiet-${i + 1}`)];
  const shareOf = (tenant: string) =>
    tenant === "noisy" ? target.noisyShare : (1 - target.noisyShare) / target.quietTenants;

  const events = new EventQueue();
  const buffer = new FairBuffer<Job>();
  const waits = new Map<string, number[]>(tenants.map((t) => [t, []]));
  let running = 0;
  let peak = 0;
  let provider429s = 0;
  let capacityWaits = 0;
  let keyReads = 0;
  let gbSeconds = 0;
  let invocations = 0;
  let jobs = 0;
  const providerMicroUsd = { total: 0 };
  const gpt = prices["gpt-image-2"]?.perImage ?? {};

  // Arrivals: a Poisson process per tenant, thinned to the day's shape (the peak is the maximum rate).
  const startS = o.fromHour * 3600;
  const endS = o.toHour * 3600;
  for (const tenant of tenants) {
    const maxRate = peakJobsPerSecond * shareOf(tenant);
    let t = startS;
    for (;;) {
      t += -Math.log(1 - rand()) / maxRate;
      if (t >= endS) break;
      if (rand() * target.peakFactor > dayShape(t)) continue;
      const mix = latencyClass(rand());
      events.push(t, {
        kind: "arrive",
        job: {
          tenant,
          arrivedS: t,
          latencyS: mix.minS + rand() * (mix.maxS - mix.minS),
          quality: mix.quality,
        },
      });
    }
  }

  // keyLoad is pure: a key's load changes only with its state, its open bucket or its penalty's end, so it is
  // recomputed only then (the other 15 keys of an acquisition rarely change; a day is 16 million loads otherwise).
  const cache = pool.map(() => ({
    state: undefined as KeyState | undefined,
    bucket: -1,
    penalized: false,
    load: undefined as ReturnType<typeof keyLoad> | undefined,
  }));
  const loadOf = (i: number, key: ProviderKeyLimit, nowMs: number) => {
    const state = states[i] as KeyState;
    const c = cache[i] as (typeof cache)[number];
    const bucket = Math.floor(nowMs / ((key.window_seconds * 1000) / bucketsPerWindow));
    const penalized = state.until !== undefined && state.until > nowMs;
    if (c.load && c.state === state && c.bucket === bucket && c.penalized === penalized) return c.load;
    const load = keyLoad(state, key, nowMs);
    Object.assign(c, { state, bucket, penalized, load });
    return load;
  };

  const dispatch = (now: number) => {
    while (running < o.concurrency && buffer.size > 0) {
      const batch: { item: Job; group: string }[] = [];
      for (
        let next = buffer.take();
        next;
        next = batch.length < o.jobsPerInvocation ? buffer.take() : undefined
      )
        batch.push(next);
      if (batch.length === 0) break;
      running++;
      invocations++;
      peak = Math.max(peak, running);
      // The invocation lasts as long as its slowest job; a job that cannot run now ends its part at once.
      let heldS = waitInvocationS;
      for (const next of batch) heldS = Math.max(heldS, start(next.item, now));
      gbSeconds += heldS * o.workerMemoryGb;
      events.push(now + heldS, { kind: "end", tenants: batch.map((b) => b.group) });
    }
  };

  /** One job in an invocation at `now`: how long it holds the invocation (its re-sends are scheduled here). */
  const start = (job: Job, now: number): number => {
    const nowMs = now * 1000;
    // The limiter's decision, as ProviderRateLimiter.acquire makes it: least loaded key with room first.
    keyReads += pool.length;
    const order = byLoad(pool.map((key, i) => ({ load: loadOf(i, key, nowMs), key: i })));
    const chosen = order.find((c) => hasRoom(c.load, target.imagesPerJob));
    if (!chosen) {
      capacityWaits++;
      const delay = waitSeconds(
        order.map((c) => c.load.freesAtMs),
        nowMs,
      );
      events.push(now + delay, { kind: "ready", job });
      return waitInvocationS;
    }
    const state = states[chosen.key] as KeyState;
    states[chosen.key] = { ...state, v: state.v + 1, ...taken(chosen.load, target.imagesPerJob) };
    // The provider's own limit: its tier on a sliding minute.
    const calls = providerCalls[chosen.key] as number[];
    while (calls.length > 0 && (calls[0] as number) <= now - 60) calls.shift();
    if (calls.length >= ipm) {
      provider429s++;
      const p = penaltyFrom(pool[chosen.key] as ProviderKeyLimit, nowMs);
      states[chosen.key] = { ...(states[chosen.key] as KeyState), factor: p.factor, until: p.until };
      events.push(now + retryAfter429S, { kind: "ready", job });
      return waitInvocationS;
    }
    calls.push(now);
    (waits.get(job.tenant) as number[]).push(now - job.arrivedS);
    jobs++;
    providerMicroUsd.total += Math.round(
      (gpt[job.quality] ?? 0) * (job.quality === "high" ? 1.5 : 1) * 1_000_000,
    );
    return job.latencyS + overheadS;
  };

  for (let ev = events.pop(); ev; ev = events.pop()) {
    const { t, e } = ev;
    switch (e.kind) {
      case "arrive":
      case "ready":
        buffer.push(e.job, e.job.tenant, t);
        break;
      case "end":
        for (const tenant of e.tenants) buffer.done(tenant);
        running--;
        break;
    }
    dispatch(t);
  }

  const perTenant = Object.fromEntries(
    tenants.map((tenant) => {
      const w = Float64Array.from(waits.get(tenant) ?? []).sort();
      return [
        tenant,
        { jobs: w.length, queue_wait_s: { p50: round(percentile(w, 50)), p99: round(percentile(w, 99)) } },
      ];
    }),
  );
  const worstQuiet = Math.max(
    ...tenants.filter((t) => t !== "noisy").map((t) => perTenant[t]?.queue_wait_s.p99 ?? 0),
  );
  // AWS cost per day (awsPrices): worker GB-seconds and requests; per job the API's submit and one status read
  // (1 GB, 100 ms each); DynamoDB: 13 write units per job (measured, docs/scale.md) plus the limiter's update, 4
  // read units, and one consistent read per pooled key per acquisition; SQS: send, receive and delete per job
  // and per capacity wait; S3: one PUT and one GET per image.
  const dayFactor = 24 / (o.toHour - o.fromHour);
  const apiInvocations = 2 * jobs;
  const lambda =
    (gbSeconds + apiInvocations * 0.1 * 1) * awsPrices.lambdaGbSecondArm +
    ((invocations + apiInvocations) / 1e6) * awsPrices.lambdaPerMillionRequests;
  const dynamo =
    (((13 + 1) * jobs + capacityWaits) / 1e6) * awsPrices.dynamoPerMillionWriteUnits +
    ((4 * jobs + keyReads) / 1e6) * awsPrices.dynamoPerMillionReadUnits;
  const sqs = ((3 * (jobs + capacityWaits + provider429s)) / 1e6) * awsPrices.sqsPerMillionRequests;
  const s3 = (jobs / 1000) * (awsPrices.s3PerThousandPuts + awsPrices.s3PerThousandGets);
  return {
    scenario: {
      seed: o.seed,
      hours: [o.fromHour, o.toHour],
      images_per_day: target.imagesPerDay,
      mean_jobs_per_s: round(meanJobsPerSecond),
      peak_jobs_per_s: round(peakJobsPerSecond),
      noisy_share: target.noisyShare,
      quiet_tenants: target.quietTenants,
      mean_provider_latency_s: round(meanLatencyS),
      worker_concurrency: o.concurrency,
      jobs_per_invocation: o.jobsPerInvocation,
      pool: `${keyCount} × ${o.tier} (${ipm} IPM)`,
      aws_prices_as_of: awsPrices.asOf,
    },
    tenants: perTenant,
    provider_429s: provider429s,
    peak_lambda_concurrency: peak,
    keys_needed_by_tier: needed,
    cost_per_day_usd: {
      aws: round((lambda + dynamo + sqs + s3) * dayFactor),
      provider: round((providerMicroUsd.total / 1e6) * dayFactor),
    },
    budget: {
      quiet_p99_s_max: 10,
      worst_quiet_p99_s: worstQuiet,
      met: worstQuiet <= 10,
      over_by_s: round(Math.max(0, worstQuiet - 10)),
    },
    simulated_jobs: jobs,
    capacity_waits: capacityWaits,
  };
}

const round = (n: number) => Math.round(n * 100) / 100;
