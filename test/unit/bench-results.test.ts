import { describe, expect, it } from "vitest";
import { notMeasured } from "../../bench/context.ts";
import { checkBudgets } from "../../bench/report.ts";
import { assembleResults, requiredKeys, resultsJson, type SectionResults } from "../../bench/results.ts";
import { deployedFunctions } from "../../bench/sections/bundles.ts";

// bench/results/latest.json carries every figure the benchmarks issue lists, whichever sections ran.

const functions = Object.keys(deployedFunctions());

/** The value at a dotted path of the written file, or `undefined` when the path is absent. */
function at(json: string, path: string): unknown {
  let value: unknown = JSON.parse(json);
  for (const part of path.split(".")) {
    if (value === null || typeof value !== "object" || !(part in value)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

const pct = (base: number) => ({ p50: base, p95: base + 1, p99: base + 2 });
const phases = { submit: 1, queue: 2, to_provider: 3, provider: 4, store: 5 };
const asyncRun = (base: number) => ({
  recorded: pct(base),
  observed: pct(base + 10),
  phases,
  jobs_per_run: 30,
});
const syncRun = (ratio: number) => ({
  ms: { direct: 1000, service: 1000 * ratio, portkey: 1010 },
  service_phases: { submit: 1 },
  vs_direct: ratio,
  vs_portkey: ratio - 0.01,
});

const everySection: SectionResults = {
  bundles: Object.fromEntries(
    functions.map((f, i) => [f, { kib: 100 + i, cold_import_ms: 100 + i, cold_import_without_sdk_ms: 50 }]),
  ),
  pipeline: {
    normalize_jpeg: { ratio: 1.01 },
    outpaint_canvas: { ratio: 1.02 },
    webp_transcode: { ratio: 1.03 },
  },
  async: { c1: asyncRun(30), c32: asyncRun(120), loads: {} as never },
  enqueue: { p50: 8, p99: 20, rate_per_s: 50, requests_per_run: 200 },
  throughput: {
    jobs_per_s: 120,
    sandbox_cpu_ms_per_job: 9,
    emulators_cpu_ms_per_job: 4,
    jobs_per_run: 200,
    runs: 3,
  },
  sync: { "0ms": syncRun(1.2), "1000ms": syncRun(1.04) },
  memory: { idle_rss_mb: 110, peak_rss_mb: 200, job_ms: 900 },
  stream: {
    first_partial_ms: { p50: 30, p99: 90 },
    final_ms: { p50: 40, p99: 120 },
    direct: { first_partial_ms: { p50: 10, p99: 20 }, final_ms: { p50: 12, p99: 25 } },
    requests_per_run: 20,
  },
  calls: {
    total: 11,
    by_operation: { "DynamoDB.GetItem": 4, "DynamoDB.UpdateItem": 4, "S3.PutObject": 1 },
    capacity_units: { "DynamoDB.GetItem": 4 },
    job_item_bytes: 850,
    duration_ms: { submit: 8, poll: 6, worker: 40 },
    jobs: 5,
    definition: "one job",
  },
  cost: {
    provider_20s: 0.2,
    provider_120s: 1.1,
    breakdown: {} as never,
    provider_price_per_1000_images_usd: {},
    provider_20s_by_worker: {},
    assumptions: {} as never,
  },
  scaling: {
    throughput_jobs_per_s: { workers_1: 7, workers_2: 14, workers_4: 26 },
    async_overhead_ms_c32_workers_4: { p50: 60, p99: 200 },
    async_phases_ms_c32_workers_4: phases,
    settings: {} as never,
  },
  portkey: "1.0.0",
};

describe("bench results (latest.json)", () => {
  it("name a bundle for every function the stack deploys, the API among them", () => {
    expect(functions).toEqual(expect.arrayContaining(["api", "worker", "deadletters", "webhooks"]));
    expect(new Set(Object.values(deployedFunctions())).size).toBe(functions.length);
  });

  it("carry every required figure as a number when every section ran", () => {
    const json = resultsJson(assembleResults(everySection, functions));
    const keys = requiredKeys(functions);
    expect(keys).toHaveLength(29 + 2 * functions.length);
    for (const key of keys) expect([key, typeof at(json, key)]).toEqual([key, "number"]);
    expect(at(json, "async_overhead_ms.c32.p99")).toBe(122);
    expect(at(json, "sync_ratio.vs_direct_1000ms")).toBe(1.04);
    expect(at(json, "pipeline_ratio.outpaint_canvas")).toBe(1.02);
    expect(at(json, "bundles.api.kib")).toBe(100 + functions.indexOf("api"));
    expect(at(json, "stream.first_partial_ms.p99")).toBe(90);
    expect(at(json, "stream.final_ms.p50")).toBe(40);
    expect(at(json, "aws_calls_per_job.total")).toBe(11);
    expect(at(json, "aws_calls_per_job.by_operation.DynamoDB.UpdateItem")).toBeUndefined();
    expect(JSON.parse(json).aws_calls_per_job.by_operation["DynamoDB.UpdateItem"]).toBe(4);
    expect(at(json, "aws_cost_per_1000_images_usd.provider_120s")).toBe(1.1);
    expect(at(json, "scaling.throughput_jobs_per_s.workers_4")).toBe(26);
    expect(at(json, "scaling.workers_4_over_workers_1")).toBeCloseTo(26 / 7, 2);
    expect(at(json, "scaling.async_overhead_ms_c32_workers_4.p99")).toBe(200);
  });

  it("still carry every required figure, as 'not measured', when no section ran", () => {
    const json = resultsJson(assembleResults({}, functions));
    for (const key of requiredKeys(functions)) expect([key, at(json, key)]).toEqual([key, notMeasured]);
  });

  it("report the Portkey ratios as not measured when Portkey did not run, never as a number", () => {
    const results = assembleResults({ ...everySection, portkey: undefined }, functions);
    const json = resultsJson(results);
    expect(at(json, "sync_ratio.vs_portkey_0ms")).toBe(notMeasured);
    expect(at(json, "sync_ratio.vs_direct_0ms")).toBe(1.2);
  });

  it("check the budgets against those figures", () => {
    const met = (r: Record<string, unknown>) =>
      Object.fromEntries(checkBudgets(r).map((b) => [b.path, b.met]));
    const good = met(assembleResults(everySection, functions));
    expect(Object.values(good).every((v) => v === true)).toBe(true);
    const slow = assembleResults(
      { ...everySection, pipeline: { ...everySection.pipeline, normalize_jpeg: { ratio: 1.3 } } },
      functions,
    );
    expect(met(slow)["pipeline_ratio.normalize_jpeg"]).toBe(false);
    expect(met(assembleResults({}, functions))["bundles.api.kib"]).toBe(notMeasured);
  });

  it("say by how much an unmet budget is missed", () => {
    const costly = assembleResults(
      {
        ...everySection,
        cost: { ...(everySection.cost as NonNullable<SectionResults["cost"]>), provider_20s: 0.55 },
      },
      functions,
    );
    const budget = checkBudgets(costly).find((b) => b.path === "aws_cost_per_1000_images_usd.provider_20s");
    expect(budget).toMatchObject({ met: false, limit: 0.25 });
    expect(budget?.missed_by).toBeCloseTo(0.3, 6);
    expect(budget?.missed_by_percent).toBeCloseTo(120, 6);
  });
});
