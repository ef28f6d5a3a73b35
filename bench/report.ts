import { execFileSync } from "node:child_process";
import { cpus, freemem, totalmem } from "node:os";
import { type Measured, notMeasured } from "./context.ts";
import { root } from "./harness.ts";
import { round } from "./stats.ts";

// The results file (bench/results/latest.json), the budgets checked against it, and the Markdown table.

export interface Budget {
  name: string;
  /** Dotted path into the results. */
  path: string;
  limit: number;
  /** "max": the figure must not exceed the limit; "min": it must reach it. */
  kind: "max" | "min";
  unit: string;
}

export const budgets: Budget[] = [
  { name: "Async overhead p50, c1", path: "async_overhead_ms.c1.p50", limit: 40, kind: "max", unit: "ms" },
  { name: "Async overhead p99, c32", path: "async_overhead_ms.c32.p99", limit: 150, kind: "max", unit: "ms" },
  { name: "Enqueue p99 at 50 req/s", path: "enqueue_ms.p99", limit: 25, kind: "max", unit: "ms" },
  {
    name: "Throughput, 0 ms provider",
    path: "throughput_jobs_per_s",
    limit: 100,
    kind: "min",
    unit: "jobs/s",
  },
  {
    name: "Sync vs direct, 1,000 ms",
    path: "sync_ratio.vs_direct_1000ms",
    limit: 1.05,
    kind: "max",
    unit: "×",
  },
  {
    name: "Pipeline: normalise 12 MP JPEG",
    path: "pipeline_ratio.normalize_jpeg",
    limit: 1.15,
    kind: "max",
    unit: "×",
  },
  {
    name: "Pipeline: outpaint canvas",
    path: "pipeline_ratio.outpaint_canvas",
    limit: 1.15,
    kind: "max",
    unit: "×",
  },
  {
    name: "Pipeline: webp transcode",
    path: "pipeline_ratio.webp_transcode",
    limit: 1.15,
    kind: "max",
    unit: "×",
  },
  { name: "Worker peak RSS, n=10", path: "worker_peak_rss_mb", limit: 256, kind: "max", unit: "MB" },
  {
    name: "Stream, first partial p50",
    path: "stream.first_partial_ms.p50",
    limit: 50,
    kind: "max",
    unit: "ms",
  },
  {
    name: "Stream, first partial p99",
    path: "stream.first_partial_ms.p99",
    limit: 200,
    kind: "max",
    unit: "ms",
  },
  { name: "Stream, completed p50", path: "stream.final_ms.p50", limit: 50, kind: "max", unit: "ms" },
  { name: "Stream, completed p99", path: "stream.final_ms.p99", limit: 200, kind: "max", unit: "ms" },
  { name: "API bundle", path: "bundles.api.kib", limit: 250, kind: "max", unit: "KiB" },
  { name: "API cold import", path: "bundles.api.cold_import_ms", limit: 150, kind: "max", unit: "ms" },
  { name: "AWS calls per job", path: "aws_calls_per_job.total", limit: 12, kind: "max", unit: "calls" },
  {
    name: "AWS cost per 1,000 images, 20 s provider",
    path: "aws_cost_per_1000_images_usd.provider_20s",
    limit: 0.25,
    kind: "max",
    unit: "USD",
  },
  {
    name: "Throughput, 4 workers ÷ 1 worker",
    path: "scaling.workers_4_over_workers_1",
    limit: 2.5,
    kind: "min",
    unit: "×",
  },
  {
    name: "Async overhead p99, c32 over 4 workers",
    path: "scaling.async_overhead_ms_c32_workers_4.p99",
    limit: 250,
    kind: "max",
    unit: "ms",
  },
];

export function lookup(results: unknown, path: string): Measured<number> {
  let value: unknown = results;
  for (const part of path.split(".")) {
    value =
      value !== null && typeof value === "object" ? (value as Record<string, unknown>)[part] : undefined;
  }
  return typeof value === "number" && Number.isFinite(value) ? value : notMeasured;
}

export function checkBudgets(results: unknown) {
  return budgets.map((b) => {
    const measured = lookup(results, b.path);
    const met =
      measured === notMeasured ? notMeasured : b.kind === "max" ? measured <= b.limit : measured >= b.limit;
    // By how much an unmet budget is missed, in its unit and as a share of the limit.
    const miss = measured === notMeasured || met ? undefined : Math.abs(measured - b.limit);
    return {
      name: b.name,
      path: b.path,
      limit: b.limit,
      kind: b.kind,
      unit: b.unit,
      measured,
      met,
      ...(miss !== undefined && { missed_by: miss, missed_by_percent: (100 * miss) / b.limit }),
    };
  });
}

export function machine() {
  const cpu = cpus();
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain"], { cwd: root, encoding: "utf8" }).trim();
    if (dirty) commit += "+changes";
  } catch {
    // not a git checkout
  }
  return {
    cpu: cpu[0]?.model.trim() ?? "unknown",
    cores: cpu.length,
    memory_gib: round(totalmem() / 2 ** 30, 1),
    free_memory_gib: round(freemem() / 2 ** 30, 1),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    commit,
  };
}

/** Rounds every number for the file; the run's own precision is not the machine's. */
export function rounded(value: unknown): unknown {
  if (typeof value === "number") return Number.isFinite(value) ? round(value, value < 10 ? 3 : 1) : null;
  if (Array.isArray(value)) return value.map(rounded);
  if (value !== null && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rounded(v)]));
  return value;
}

const fmt = (v: Measured<number>, unit: string) => {
  if (v === notMeasured) return "not measured";
  if (unit === "USD") return `$${v.toFixed(3)}`;
  const digits = unit === "×" ? 2 : v < 10 ? 1 : 0;
  return unit === "×" ? `${v.toFixed(digits)}×` : `${v.toFixed(digits)} ${unit}`;
};

/** The Markdown table the README shows: every figure the bench takes, with its budget where it has one. */
export function markdown(results: Record<string, unknown>): string {
  const get = (path: string) => lookup(results, path);
  const budgetOf = new Map(checkBudgets(results).map((b) => [b.path, b]));
  const rows: string[][] = [];
  const row = (label: string, path: string, unit: string) => {
    const b = budgetOf.get(path);
    const limit = b
      ? `${b.kind === "max" ? "≤" : "≥"} ${b.unit === "×" ? `${b.limit}×` : `${b.limit} ${b.unit}`}`
      : "";
    const met = !b
      ? ""
      : b.met === notMeasured
        ? "–"
        : b.met
          ? "yes"
          : `**no**, by ${fmt(b.missed_by ?? Number.NaN, b.unit)} (${(b.missed_by_percent ?? 0).toFixed(0)}%)`;
    rows.push([label, fmt(get(path), unit), limit, met]);
  };
  row("Async overhead c1 p50", "async_overhead_ms.c1.p50", "ms");
  row("Async overhead c1 p95", "async_overhead_ms.c1.p95", "ms");
  row("Async overhead c1 p99", "async_overhead_ms.c1.p99", "ms");
  row("Async overhead c32 p50", "async_overhead_ms.c32.p50", "ms");
  row("Async overhead c32 p95", "async_overhead_ms.c32.p95", "ms");
  row("Async overhead c32 p99", "async_overhead_ms.c32.p99", "ms");
  row("Async, as the polling client sees it, c1 p50", "async_observed_ms.c1.p50", "ms");
  const phases = (path: string, names: string[]) =>
    names.map((n) => `${n} ${fmt(get(`${path}.${n}`), "ms")}`).join(", ");
  rows.push([
    "Where c1 async time goes (medians)",
    phases("async_phases_ms.c1", ["submit", "queue", "to_provider", "store"]),
    "",
    "",
  ]);
  row("Enqueue (POST /v1/jobs) p50 at 50 req/s", "enqueue_ms.p50", "ms");
  row("Enqueue (POST /v1/jobs) p99 at 50 req/s", "enqueue_ms.p99", "ms");
  row("Throughput, 0 ms provider", "throughput_jobs_per_s", "jobs/s");
  row("Sandbox CPU per job", "cpu_ms_per_job.sandbox", "ms");
  row("Sync: direct / service / Portkey, 0 ms", "sync_ms.0ms.direct", "ms");
  rows[rows.length - 1] = [
    "Sync: direct / service / Portkey, 0 ms",
    ["direct", "service", "portkey"].map((t) => fmt(get(`sync_ms.0ms.${t}`), "ms")).join(" / "),
    "",
    "",
  ];
  rows.push([
    "Sync: direct / service / Portkey, 1,000 ms",
    ["direct", "service", "portkey"].map((t) => fmt(get(`sync_ms.1000ms.${t}`), "ms")).join(" / "),
    "",
    "",
  ]);
  rows.push([
    "Where the service's sync time goes, 1,000 ms (medians)",
    phases("sync_phases_ms.1000ms", ["submit", "queue", "to_provider", "store", "respond"]),
    "",
    "",
  ]);
  row("Sync service ÷ direct, 0 ms", "sync_ratio.vs_direct_0ms", "×");
  row("Sync service ÷ direct, 1,000 ms", "sync_ratio.vs_direct_1000ms", "×");
  row("Sync service ÷ Portkey, 0 ms", "sync_ratio.vs_portkey_0ms", "×");
  row("Sync service ÷ Portkey, 1,000 ms", "sync_ratio.vs_portkey_1000ms", "×");
  row("Pipeline ÷ bare sharp: normalise 12 MP JPEG", "pipeline_ratio.normalize_jpeg", "×");
  row("Pipeline ÷ bare sharp: outpaint canvas + mask", "pipeline_ratio.outpaint_canvas", "×");
  row("Pipeline ÷ bare sharp: webp transcode", "pipeline_ratio.webp_transcode", "×");
  row("Worker peak RSS, one job n=10 1024² PNG", "worker_peak_rss_mb", "MB");
  row("Worker RSS high-water mark after import, before the job", "worker_rss_mb.idle_rss_mb", "MB");
  row("Stream: provider's first partial image → client, p50", "stream.first_partial_ms.p50", "ms");
  row("Stream: provider's first partial image → client, p99", "stream.first_partial_ms.p99", "ms");
  row("Stream: provider's completed event → client, p50", "stream.final_ms.p50", "ms");
  row("Stream: provider's completed event → client, p99", "stream.final_ms.p99", "ms");
  rows.push([
    "Stream, the SDK straight to the provider: first partial / completed p50",
    ["first_partial_ms", "final_ms"].map((k) => fmt(get(`stream.direct.${k}.p50`), "ms")).join(" / "),
    "",
    "",
  ]);
  row("AWS calls per job (submit, worker, one poll)", "aws_calls_per_job.total", "calls");
  row("AWS cost per 1,000 images, 20 s provider", "aws_cost_per_1000_images_usd.provider_20s", "USD");
  row("AWS cost per 1,000 images, 120 s provider", "aws_cost_per_1000_images_usd.provider_120s", "USD");
  for (const n of [1, 2, 4])
    row(
      `Throughput, ${n} worker process(es), 500 ms provider`,
      `scaling.throughput_jobs_per_s.workers_${n}`,
      "jobs/s",
    );
  row("Throughput, 4 workers ÷ 1 worker", "scaling.workers_4_over_workers_1", "×");
  row("Async overhead c32 over 4 workers p50", "scaling.async_overhead_ms_c32_workers_4.p50", "ms");
  row("Async overhead c32 over 4 workers p99", "scaling.async_overhead_ms_c32_workers_4.p99", "ms");
  rows.push([
    "Provider's price per 1,000 images, gpt-image-2 1024² low / medium / high",
    ["low", "medium", "high"]
      .map((q) =>
        fmt(get(`aws_cost_per_1000_images_usd.provider_price_per_1000_images_usd.gpt-image-2_${q}`), "USD"),
      )
      .join(" / "),
    "",
    "",
  ]);
  for (const name of Object.keys((results.bundles as Record<string, unknown> | undefined) ?? {})) {
    row(`Bundle: ${name}`, `bundles.${name}.kib`, "KiB");
    row(`Cold import: ${name}`, `bundles.${name}.cold_import_ms`, "ms");
  }
  const m = results.machine as ReturnType<typeof machine>;
  const header = `Machine: ${m.cpu}, ${m.cores} cores, ${m.memory_gib} GiB, Node ${m.node}, ${m.platform}; commit ${m.commit}; ${String(results.generated_at)}; medians of ${String(results.repeats)} runs${results.quick ? " (--quick)" : ""}.`;
  const lines = [
    "| Figure | Measured | Budget | Met |",
    "| --- | ---: | ---: | :---: |",
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ];
  return `${header}\n\n${lines.join("\n")}\n`;
}
