import { type Measured, notMeasured } from "./context.ts";
import { rounded } from "./report.ts";
import type { measureAsync } from "./sections/async.ts";
import type { AwsCallsPerJob } from "./sections/aws-calls.ts";
import type { measureBundles } from "./sections/bundles.ts";
import type { measureCost } from "./sections/cost.ts";
import type { measureEnqueue } from "./sections/enqueue.ts";
import type { measureMemory } from "./sections/memory.ts";
import type { PipelineResult } from "./sections/pipeline.ts";
import type { measureScaling } from "./sections/scaling.ts";
import type { measureStream } from "./sections/stream.ts";
import type { measureSync } from "./sections/sync.ts";
import type { measureThroughput } from "./sections/throughput.ts";

// bench/results/latest.json: every figure the issue asks for is always present, as a number or as
// "not measured" (a section that was skipped or failed), never missing and never a number standing in for one.

type Out<F extends (...args: never[]) => unknown> = Awaited<ReturnType<F>>;

export interface SectionResults {
  bundles?: Out<typeof measureBundles> | undefined;
  pipeline?: Record<string, PipelineResult> | undefined;
  async?: Out<typeof measureAsync> | undefined;
  enqueue?: Out<typeof measureEnqueue> | undefined;
  throughput?: Out<typeof measureThroughput> | undefined;
  sync?: Out<typeof measureSync> | undefined;
  memory?: Out<typeof measureMemory> | undefined;
  stream?: Out<typeof measureStream> | undefined;
  calls?: AwsCallsPerJob | undefined;
  cost?: ReturnType<typeof measureCost> | undefined;
  scaling?: Out<typeof measureScaling> | undefined;
  /** Whether Portkey ran: without it, the Portkey ratios are not measured. */
  portkey?: string | undefined;
}

export const pipelineNames = ["normalize_jpeg", "outpaint_canvas", "webp_transcode"] as const;

/** The dotted paths the issue lists; `functions` are the bundles' keys (each deployed function, lower-cased). */
export function requiredKeys(functions: readonly string[]): string[] {
  const p = ["p50", "p95", "p99"];
  return [
    ...p.map((k) => `async_overhead_ms.c1.${k}`),
    ...p.map((k) => `async_overhead_ms.c32.${k}`),
    "enqueue_ms.p50",
    "enqueue_ms.p99",
    "throughput_jobs_per_s",
    "sync_ratio.vs_direct_0ms",
    "sync_ratio.vs_direct_1000ms",
    "sync_ratio.vs_portkey_0ms",
    "sync_ratio.vs_portkey_1000ms",
    ...pipelineNames.map((n) => `pipeline_ratio.${n}`),
    "worker_peak_rss_mb",
    "stream.first_partial_ms.p50",
    "stream.first_partial_ms.p99",
    "stream.final_ms.p50",
    "stream.final_ms.p99",
    ...functions.flatMap((f) => [`bundles.${f}.kib`, `bundles.${f}.cold_import_ms`]),
    "aws_calls_per_job.total",
    "aws_cost_per_1000_images_usd.provider_20s",
    "aws_cost_per_1000_images_usd.provider_120s",
    "scaling.throughput_jobs_per_s.workers_1",
    "scaling.throughput_jobs_per_s.workers_2",
    "scaling.throughput_jobs_per_s.workers_4",
    "scaling.async_overhead_ms_c32_workers_4.p50",
    "scaling.async_overhead_ms_c32_workers_4.p99",
  ];
}

/** The figures of one run, from whatever sections ran; `functions` names the bundles expected. */
export function assembleResults(s: SectionResults, functions: readonly string[]): Record<string, unknown> {
  const nm = notMeasured;
  const three = { p50: nm, p95: nm, p99: nm };
  const portkey = <T>(v: T | undefined): Measured<T> => (s.portkey ? (v ?? nm) : nm);
  return {
    async_overhead_ms: { c1: s.async?.c1.recorded ?? three, c32: s.async?.c32.recorded ?? three },
    async_observed_ms: { c1: s.async?.c1.observed ?? three, c32: s.async?.c32.observed ?? three },
    async_phases_ms: { c1: s.async?.c1.phases ?? nm, c32: s.async?.c32.phases ?? nm },
    enqueue_ms: { p50: s.enqueue?.p50 ?? nm, p99: s.enqueue?.p99 ?? nm },
    throughput_jobs_per_s: s.throughput?.jobs_per_s ?? nm,
    cpu_ms_per_job: {
      sandbox: s.throughput?.sandbox_cpu_ms_per_job ?? nm,
      emulators: s.throughput?.emulators_cpu_ms_per_job ?? nm,
    },
    sync_ms: { "0ms": s.sync?.["0ms"].ms ?? nm, "1000ms": s.sync?.["1000ms"].ms ?? nm },
    sync_phases_ms: {
      "0ms": s.sync?.["0ms"].service_phases ?? nm,
      "1000ms": s.sync?.["1000ms"].service_phases ?? nm,
    },
    sync_ratio: {
      vs_direct_0ms: s.sync?.["0ms"].vs_direct ?? nm,
      vs_direct_1000ms: s.sync?.["1000ms"].vs_direct ?? nm,
      vs_portkey_0ms: portkey(s.sync?.["0ms"].vs_portkey),
      vs_portkey_1000ms: portkey(s.sync?.["1000ms"].vs_portkey),
    },
    pipeline_ratio: Object.fromEntries(pipelineNames.map((n) => [n, s.pipeline?.[n]?.ratio ?? nm])),
    pipeline: s.pipeline ?? nm,
    worker_peak_rss_mb: s.memory?.peak_rss_mb ?? nm,
    stream: {
      first_partial_ms: s.stream?.first_partial_ms ?? { p50: nm, p99: nm },
      final_ms: s.stream?.final_ms ?? { p50: nm, p99: nm },
      direct: s.stream?.direct ?? nm,
    },
    worker_rss_mb: s.memory ?? nm,
    aws_calls_per_job: {
      total: s.calls?.total ?? nm,
      by_operation: s.calls?.by_operation ?? nm,
      dynamodb_capacity_units: s.calls?.capacity_units ?? nm,
      definition: s.calls?.definition ?? nm,
    },
    aws_cost_per_1000_images_usd: {
      provider_20s: s.cost?.provider_20s ?? nm,
      provider_120s: s.cost?.provider_120s ?? nm,
      breakdown: s.cost?.breakdown ?? nm,
      provider_price_per_1000_images_usd: s.cost?.provider_price_per_1000_images_usd ?? nm,
      provider_20s_by_worker: s.cost?.provider_20s_by_worker ?? nm,
      assumptions: s.cost?.assumptions ?? nm,
    },
    scaling: {
      throughput_jobs_per_s: {
        workers_1: s.scaling?.throughput_jobs_per_s.workers_1 ?? nm,
        workers_2: s.scaling?.throughput_jobs_per_s.workers_2 ?? nm,
        workers_4: s.scaling?.throughput_jobs_per_s.workers_4 ?? nm,
      },
      // The budget: workers_4 at least 2.5 × workers_1.
      workers_4_over_workers_1:
        s.scaling?.throughput_jobs_per_s.workers_4 !== undefined &&
        s.scaling.throughput_jobs_per_s.workers_1 !== undefined
          ? s.scaling.throughput_jobs_per_s.workers_4 / s.scaling.throughput_jobs_per_s.workers_1
          : nm,
      async_overhead_ms_c32_workers_4: s.scaling?.async_overhead_ms_c32_workers_4 ?? { p50: nm, p99: nm },
      async_phases_ms_c32_workers_4: s.scaling?.async_phases_ms_c32_workers_4 ?? nm,
      settings: s.scaling?.settings ?? nm,
    },
    bundles: Object.fromEntries(
      functions.map((f) => [
        f,
        s.bundles?.[f] ?? { kib: nm, cold_import_ms: nm, cold_import_without_sdk_ms: nm },
      ]),
    ),
  };
}

/** The text of latest.json: numbers rounded (a run's precision is not the machine's); NaN becomes null. */
export const resultsJson = (results: Record<string, unknown>) =>
  `${JSON.stringify(rounded(results), null, 2)}\n`;
