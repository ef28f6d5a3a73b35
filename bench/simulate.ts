import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { root } from "./harness.ts";
import { tiers } from "./scale/model.ts";
import { defaultOptions, type SimulationOptions, simulate } from "./scale/simulate.ts";

// `npm run simulate`: one simulated day at the target load (bench/scale/simulate.ts, docs/scale.md). Writes
// bench/results/simulate.json and prints the same figures. Options: --seed N, --concurrency N, --tier tier_1..5,
// --keys N, --from H --to H (hours of the day to simulate; costs are scaled to a day), --batch N (jobs per worker
// invocation, the stack's workerBatchSize).

const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    concurrency: { type: "string" },
    tier: { type: "string" },
    keys: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
    batch: { type: "string" },
  },
});
const int = (name: string, v: string | undefined, fallback: number) => {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number`);
  return n;
};
if (values.tier !== undefined && !(values.tier in tiers))
  throw new Error(`--tier must be one of ${Object.keys(tiers).join(", ")}`);
const options: SimulationOptions = {
  ...defaultOptions,
  seed: int("seed", values.seed, defaultOptions.seed),
  concurrency: int("concurrency", values.concurrency, defaultOptions.concurrency),
  tier: (values.tier ?? defaultOptions.tier) as SimulationOptions["tier"],
  fromHour: int("from", values.from, defaultOptions.fromHour),
  toHour: int("to", values.to, defaultOptions.toHour),
  jobsPerInvocation: Math.max(1, int("batch", values.batch, defaultOptions.jobsPerInvocation)),
  ...(values.keys !== undefined && { keys: int("keys", values.keys, 1) }),
};
const started = performance.now();
const result = simulate(options);
const elapsedS = (performance.now() - started) / 1000;
const dir = join(root, "bench/results");
await mkdir(dir, { recursive: true });
await writeFile(join(dir, "simulate.json"), `${JSON.stringify(result, null, 2)}\n`);

const rows: [string, string][] = [
  ...Object.entries(result.scenario).map(([k, v]): [string, string] => [`scenario.${k}`, String(v)]),
  ...Object.entries(result.tenants).flatMap(([t, r]): [string, string][] => [
    [`tenants.${t}.queue_wait_s.p50`, String(r.queue_wait_s.p50)],
    [`tenants.${t}.queue_wait_s.p99`, String(r.queue_wait_s.p99)],
  ]),
  ["provider_429s", String(result.provider_429s)],
  ["peak_lambda_concurrency", String(result.peak_lambda_concurrency)],
  ...Object.entries(result.keys_needed_by_tier).map(([t, n]): [string, string] => [
    `keys_needed_by_tier.${t}`,
    String(n),
  ]),
  ["cost_per_day_usd.aws", result.cost_per_day_usd.aws.toFixed(2)],
  ["cost_per_day_usd.provider", result.cost_per_day_usd.provider.toFixed(2)],
  ["simulated_jobs", String(result.simulated_jobs)],
  ["capacity_waits", String(result.capacity_waits)],
  [
    "budget: every quiet tenant's queue_wait_s.p99 ≤ 10 s",
    result.budget.met
      ? `met (worst ${result.budget.worst_quiet_p99_s} s)`
      : `NOT met: worst ${result.budget.worst_quiet_p99_s} s, over by ${result.budget.over_by_s} s`,
  ],
];
const width = Math.max(...rows.map(([k]) => k.length));
process.stdout.write(`${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n")}\n`);
process.stdout.write(`\nSimulated in ${elapsedS.toFixed(1)} s; wrote bench/results/simulate.json\n`);
