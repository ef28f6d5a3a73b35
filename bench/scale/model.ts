import type { AttributeValue } from "@aws-sdk/client-dynamodb";

// The scale model of issue 16, as data and small pure functions: the target load, the provider's latency, the
// limits that bound it, and AWS prices. `npm run simulate` (bench/simulate.ts) and the storage test
// (test/integration/storage-scale.test.ts) both use it; docs/scale.md explains it.

export const target = {
  imagesPerDay: 1_000_000,
  /** The daily peak, as a multiple of the day's mean rate. */
  peakFactor: 5,
  /** The noisy tenant's share of all jobs; the nine quiet tenants share the rest equally. */
  noisyShare: 0.4,
  quietTenants: 9,
  /** Images per job: the simulation's jobs ask for one image each (the common case). */
  imagesPerJob: 1,
} as const;

/**
 * The day's shape: a two-hour peak at `peakFactor` × the mean, the other 22 hours at the rate that makes the day's
 * mean 1. Returns the rate at second `t` of the day as a multiple of the mean.
 */
export const peakHours = { from: 16, to: 18 } as const;
export function dayShape(t: number): number {
  const hour = (t / 3600) % 24;
  const peakSpan = peakHours.to - peakHours.from;
  const base = (24 - target.peakFactor * peakSpan) / (24 - peakSpan);
  return hour >= peakHours.from && hour < peakHours.to ? target.peakFactor : base;
}

export const meanJobsPerSecond = target.imagesPerDay / target.imagesPerJob / 86_400;
export const peakJobsPerSecond = meanJobsPerSecond * target.peakFactor;

/**
 * Provider time per image call, from FACTS.md: gpt-image-2 at low settings about 15 s, 1024² generations 6–8 s
 * (the walkthrough), high quality at 1536×1024 about 235 s. The mix is an assumption: most traffic at medium.
 */
export const latencyMix = [
  { share: 0.2, quality: "low", label: "low, 1024² (6–8 s)", minS: 6, maxS: 8 },
  { share: 0.7, quality: "medium", label: "medium (about 15 s)", minS: 12, maxS: 18 },
  { share: 0.1, quality: "high", label: "high, 1536×1024 (about 235 s)", minS: 200, maxS: 270 },
] as const;
/** The mix entry a uniform draw `u` in [0, 1) falls in. */
export function latencyClass(u: number): (typeof latencyMix)[number] {
  let acc = 0;
  for (const m of latencyMix) {
    acc += m.share;
    if (u < acc) return m;
  }
  return latencyMix[latencyMix.length - 1] as (typeof latencyMix)[number];
}
export const meanLatencyS = latencyMix.reduce((sum, m) => sum + (m.share * (m.minS + m.maxS)) / 2, 0);

/** gpt-image-2's images-per-minute tiers (tiers 1–5), per organization or project. */
export const tiers = { tier_1: 5, tier_2: 20, tier_3: 50, tier_4: 150, tier_5: 250 } as const;
/** The limiter counts 13/12 of a window, so a key runs at 12/13 of its tier at most (lib/limits/provider-rate.ts). */
export const limiterEfficiency = 12 / 13;

/** Keys of each tier to serve `imagesPerSecond` within the limiter's efficiency. */
export function keysNeeded(imagesPerSecond: number): Record<keyof typeof tiers, number> {
  return Object.fromEntries(
    Object.entries(tiers).map(([tier, ipm]) => [
      tier,
      Math.ceil((imagesPerSecond * 60) / (ipm * limiterEfficiency)),
    ]),
  ) as Record<keyof typeof tiers, number>;
}

/** Lambda and DynamoDB limits (FACTS.md). */
export const limits = {
  accountConcurrency: 1_000,
  sqsEventSourceMaxConcurrency: 1_250,
  partitionWcu: 1_000,
  partitionRcu: 3_000,
} as const;

/**
 * AWS list prices, us-east-1, arm64 Lambda, on-demand DynamoDB, standard SQS. Taken from the AWS pricing pages as
 * known on `asOf`; they were not re-checked from this offline machine, so check them before quoting.
 */
export const awsPrices = {
  asOf: "2025-06-01",
  region: "us-east-1",
  lambdaGbSecondArm: 0.0000133334,
  lambdaPerMillionRequests: 0.2,
  dynamoPerMillionWriteUnits: 0.625,
  dynamoPerMillionReadUnits: 0.125,
  sqsPerMillionRequests: 0.4,
  s3PerThousandPuts: 0.005,
  s3PerThousandGets: 0.0004,
} as const;

/** DynamoDB's item size: attribute names plus values (numbers about 1 byte per 2 digits, +1; containers +3, +1 each). */
export function itemBytes(item: Record<string, AttributeValue>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) bytes += Buffer.byteLength(name) + valueBytes(value);
  return bytes;
}

function valueBytes(v: AttributeValue): number {
  if (v.S !== undefined) return Buffer.byteLength(v.S);
  if (v.N !== undefined) return Math.ceil(v.N.replace(/^-|\.|e.*$/gi, "").length / 2) + 1;
  if (v.B !== undefined) return v.B.length;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.M !== undefined)
    return 3 + Object.entries(v.M).reduce((s, [k, x]) => s + Buffer.byteLength(k) + valueBytes(x) + 1, 0);
  if (v.L !== undefined) return 3 + v.L.reduce((s, x) => s + valueBytes(x) + 1, 0);
  if (v.SS !== undefined) return v.SS.reduce((s, x) => s + Buffer.byteLength(x), 0);
  if (v.NS !== undefined) return v.NS.reduce((s, x) => s + Math.ceil(x.length / 2) + 1, 0);
  return 0;
}

/** Write units of one write: the larger of the item before and after, in whole KB. */
export const writeUnits = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));
