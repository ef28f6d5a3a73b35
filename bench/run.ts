import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { FakeOpenAI } from "../test/support/fake-openai.ts";
import { type BenchContext, notMeasured } from "./context.ts";
import {
  type Portkey,
  root,
  type Sandbox,
  startBenchSandbox,
  startPortkey,
  startProvider,
} from "./harness.ts";
import { checkBudgets, lookup, machine, markdown } from "./report.ts";
import { assembleResults, requiredKeys, resultsJson } from "./results.ts";
import { measureAsync } from "./sections/async.ts";
import { measureAwsCalls } from "./sections/aws-calls.ts";
import { deployedFunctions, measureBundles } from "./sections/bundles.ts";
import { measureCost } from "./sections/cost.ts";
import { measureEnqueue } from "./sections/enqueue.ts";
import { measureMemory } from "./sections/memory.ts";
import { measurePipelines } from "./sections/pipeline.ts";
import { measureScaling } from "./sections/scaling.ts";
import { measureStream } from "./sections/stream.ts";
import { measureSync } from "./sections/sync.ts";
import { measureThroughput } from "./sections/throughput.ts";

// `npm run bench`: measures what the service adds on top of the provider, writes bench/results/latest.json and
// latest.md, and prints the table. Options: --quick (smaller loads, for development), --repeats N (runs per
// figure, default 5), --only async,enqueue,throughput,sync,stream,pipeline,memory,bundles,calls,scaling (calls:
// AWS calls and cost per job; scaling: the API and 1, 2, 4 worker processes). BENCH_CPU_PROF=dir writes a
// V8 CPU profile of each child process (sandbox, emulators, workers) into dir. The first run installs Portkey's
// gateway into bench/portkey/node_modules from its own lockfile (npm ci, a few seconds); nothing else is needed
// beyond the project's own `npm ci`.

const sections = [
  "bundles",
  "pipeline",
  "async",
  "enqueue",
  "throughput",
  "sync",
  "stream",
  "memory",
  "calls",
  "scaling",
] as const;
type Section = (typeof sections)[number];

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    repeats: { type: "string", default: "5" },
    only: { type: "string" },
  },
});
const only = new Set((values.only?.split(",") ?? sections).map((s) => s.trim()));
for (const s of only) if (!sections.includes(s as Section)) throw new Error(`Unknown section '${s}'`);
const repeats = Number(values.repeats);
if (!Number.isInteger(repeats) || repeats < 1) throw new Error("--repeats must be a positive integer");

const started = Date.now();
const log = (message: string) =>
  process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${message}\n`);
const results: Record<string, unknown> = {
  generated_at: new Date().toISOString(),
  repeats,
  quick: values.quick,
  machine: machine(),
};
const errors: Record<string, string> = {};

async function section<T>(name: Section, run: () => Promise<T>): Promise<T | undefined> {
  if (!only.has(name)) return undefined;
  log(`${name}...`);
  try {
    return await run();
  } catch (err) {
    errors[name] = err instanceof Error ? err.message : String(err);
    log(`${name} FAILED: ${errors[name]}`);
    return undefined;
  }
}

let provider: FakeOpenAI | undefined;
let sandbox: Sandbox | undefined;
let portkey: Portkey | undefined;
try {
  // CPU-bound sections first, while nothing else of ours runs.
  const offline = { repeats, quick: values.quick, log } as Omit<
    BenchContext,
    "sandbox" | "provider" | "portkey"
  >;
  const bundles = await section("bundles", () => measureBundles(offline as BenchContext));
  const pipeline = await section("pipeline", () => measurePipelines(offline as BenchContext));

  // Every section but the offline ones (bundles, pipeline) runs against the services.
  const needsServices = sections.some((s) => s !== "bundles" && s !== "pipeline" && only.has(s));
  let ctx: BenchContext | undefined;
  if (needsServices) {
    provider = await startProvider();
    sandbox = await startBenchSandbox(provider);
    if (only.has("sync")) {
      portkey = await startPortkey().catch((err: unknown) => {
        errors.portkey = err instanceof Error ? err.message : String(err);
        log(`Portkey did not start; its comparison is not measured: ${errors.portkey}`);
        return undefined;
      });
    }
    ctx = { sandbox, provider, portkey, repeats, quick: values.quick, log };
    log(
      `sandbox ${sandbox.url}, provider ${provider.baseURL}${portkey ? `, Portkey ${portkey.version} ${portkey.url}` : ""}`,
    );
  }
  const asyncResult = ctx && (await section("async", () => measureAsync(ctx)));
  const enqueue = ctx && (await section("enqueue", () => measureEnqueue(ctx)));
  const throughput = ctx && (await section("throughput", () => measureThroughput(ctx)));
  const sync = ctx && (await section("sync", () => measureSync(ctx)));
  const stream = ctx && (await section("stream", () => measureStream(ctx)));
  const memory = ctx && (await section("memory", () => measureMemory(ctx)));
  const calls = ctx && (await section("calls", () => measureAwsCalls(ctx.provider)));
  const cost = calls && measureCost(calls);
  const scaling = ctx && (await section("scaling", () => measureScaling(ctx)));

  const nm = notMeasured;
  Object.assign(
    results,
    assembleResults(
      {
        bundles,
        pipeline,
        async: asyncResult,
        enqueue,
        throughput,
        sync,
        stream,
        memory,
        calls,
        cost,
        scaling,
        portkey: portkey?.version,
      },
      Object.keys(deployedFunctions()),
    ),
  );
  Object.assign(results, {
    settings: {
      provider_image: "1024×1024 PNG, ≈1.7 MB (photo-like noise), b64_json",
      sandbox:
        "API + worker + SQS poller in one process (WORKER_CONCURRENCY 32); emulators in-memory in another",
      async: asyncResult?.loads ?? nm,
      enqueue: enqueue ? { rate_per_s: enqueue.rate_per_s, requests_per_run: enqueue.requests_per_run } : nm,
      throughput: throughput ? { jobs_per_run: throughput.jobs_per_run, runs: throughput.runs } : nm,
      stream: stream
        ? {
            provider: "fake OpenAI streaming 2 partial images then the image over 900 ms, 1024² PNGs",
            requests_per_run: stream.requests_per_run,
          }
        : nm,
      portkey: portkey?.version ?? nm,
    },
    errors,
  });
  results.budgets = checkBudgets(results);
  for (const b of checkBudgets(results)) {
    if (b.met === false)
      log(
        `budget not met: ${b.name} ${b.measured} ${b.unit}, limit ${b.limit}, by ${b.missed_by} (${b.missed_by_percent?.toFixed(0)}%)`,
      );
  }
} finally {
  await portkey?.stop();
  await sandbox?.stop();
  await provider?.close();
}

const dir = join(root, "bench/results");
await mkdir(dir, { recursive: true });
const table = markdown(results);
await writeFile(join(dir, "latest.json"), resultsJson(results));
await writeFile(join(dir, "latest.md"), table);
process.stdout.write(
  `\n${table}\nWrote bench/results/latest.json and latest.md in ${((Date.now() - started) / 1000).toFixed(0)} s.\n`,
);
const unmeasured = requiredKeys(Object.keys(deployedFunctions())).filter(
  (k) => lookup(results, k) === notMeasured,
);
if (unmeasured.length > 0) process.stdout.write(`Not measured: ${unmeasured.join(", ")}\n`);
if (Object.keys(errors).length > 0) {
  process.stdout.write(`Sections that failed: ${Object.keys(errors).join(", ")}\n`);
  process.exit(1);
}
