import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

// Sizes and printed figures of the reliability suites. `npm test` runs them reduced; `npm run test:reliability`
// (vitest.reliability.config.ts) sets RELIABILITY=full for the sizes the issue asks for. Test code reads its own
// variables; the product reads the environment only in lib/config.ts.

export const full = process.env.RELIABILITY === "full";

/** Fixed unless overridden, and printed, so a failure reproduces: RELIABILITY_SEED=<seed>. */
export const seed = Number(process.env.RELIABILITY_SEED ?? 20261122);

export const sizes = {
  fuzzRequests: full ? 5_000 : 500,
  fuzzQueries: full ? 2_000 : 300,
  loadJobs: full ? 1_000 : 50,
  loadClients: full ? 50 : 10,
  crashKills: 3,
};

/** Where a full-size run leaves each suite's figures: `npm run docs:figures` puts them in docs/reliability.md. */
export const figuresDir = fileURLToPath(new URL("../../bench/results/reliability/", import.meta.url));

/**
 * One block of figures on stdout; at full size also bench/results/reliability/<suite>.json, one file per suite so
 * that suites never overwrite each other's figures.
 */
export function printFigures(suite: string, figures: Record<string, string | number>): void {
  const width = Math.max(...Object.keys(figures).map((k) => k.length));
  const lines = Object.entries(figures).map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
  process.stdout.write(`\n[reliability] ${suite} (${full ? "full" : "reduced"} size)\n${lines.join("\n")}\n`);
  if (!full) return;
  mkdirSync(figuresDir, { recursive: true });
  const cpu = cpus();
  const machine = `${cpu.length} × ${cpu[0]?.model.trim() ?? "unknown CPU"}, Node ${process.version}, load average ${loadavg()[0]?.toFixed(1)}`;
  const record = { suite, seed, measured_at: new Date().toISOString(), machine, figures };
  writeFileSync(join(figuresDir, `${suiteFile(suite)}.json`), `${JSON.stringify(record, null, 2)}\n`);
}

/** "SSRF: image URLs" → "ssrf-image-urls". */
export const suiteFile = (suite: string) =>
  suite
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

/** Runs `work` over `items` with at most `concurrency` in flight. */
export async function pool<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i] as T, i);
      }
    }),
  );
  return results;
}

/** RSS in MB. */
export const rssMb = () => process.memoryUsage().rss / 1024 / 1024;

/** A uniform PRNG from a seed (mulberry32): fast-check's generators are biased towards edge values on purpose. */
export function seededRandom(from: number): () => number {
  let a = from >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
