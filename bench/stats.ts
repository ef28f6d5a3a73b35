// Percentiles and medians for the bench. Nearest-rank percentiles: every reported figure is a measured sample.

export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export const median = (samples: readonly number[]) => percentile(samples, 50);

export type Percentiles = { p50: number; p95: number; p99: number };

export function percentiles(samples: readonly number[]): Percentiles {
  return { p50: percentile(samples, 50), p95: percentile(samples, 95), p99: percentile(samples, 99) };
}

/** Each run is summarised on its own, then the runs' figures are combined by median: one noisy run cannot move it. */
export function medianOfRuns<T extends Record<string, number>>(runs: readonly T[]): T {
  const first = runs[0];
  if (!first) throw new Error("no runs");
  return Object.fromEntries(Object.keys(first).map((k) => [k, median(runs.map((r) => r[k] as number))])) as T;
}

export const round = (x: number, digits = 1) => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

/** Epoch milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
export const epochMs = () => performance.timeOrigin + performance.now();

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
