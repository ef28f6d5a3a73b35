import { existsSync } from "node:fs";
import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { build } from "esbuild";
import { esbuildOptions } from "../../infra/bundling.ts";
import { functionSpecs } from "../../infra/functions.ts";
import { parseSettings } from "../../infra/settings.ts";
import type { BenchContext } from "../context.ts";
import { root, startChild } from "../harness.ts";
import { median } from "../stats.ts";

// Cold start: each function's bundle size and its cold import time in a fresh process. The bundles are built
// exactly as the stack builds them (infra/bundling.ts, infra/functions.ts), so what is measured is what deploys.
// Cold import includes the AWS SDK clients, which the Lambda runtime provides (external to the bundle) but which
// every cold start still loads, and sharp where a bundle imports it statically.

// What the stack sets, minus the secret (nothing is contacted during import); AWS_EXECUTION_ENV and TRACING turn
// Powertools Tracer on in the functions that carry it.
const functionEnv = {
  AWS_REGION: "us-east-1",
  AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x",
  AWS_LAMBDA_FUNCTION_NAME: "bench",
  AWS_ACCESS_KEY_ID: "bench",
  AWS_SECRET_ACCESS_KEY: "bench",
  JOBS_TABLE: "jobs",
  IMAGES_BUCKET: "images",
  JOBS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/jobs",
  WEBHOOKS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/jobs-webhooks",
  OPENAI_API_KEY: "sk-bench-measurement-only",
  LOG_FORMAT: "json",
  LOG_LEVEL: "error",
  METRICS_NAMESPACE: "ImageJobs/bench",
  TRACING: "true",
};

/**
 * Each function the stack deploys, once (both API front doors share one bundle), keyed by its lower-cased id.
 * As in the stack, a function whose handler is not written yet is left out.
 */
export function deployedFunctions(): Record<string, string> {
  const byEntry = new Map<string, string>();
  for (const spec of functionSpecs({ ...parseSettings({}), functionUrl: true })) {
    if (!byEntry.has(spec.entry) && existsSync(join(root, spec.entry)))
      byEntry.set(spec.entry, spec.id.toLowerCase());
  }
  return Object.fromEntries([...byEntry].map(([entry, name]) => [name, entry]));
}

/** Bundles one function as the stack does; returns the file. */
export async function buildBundle(name: string, entry: string): Promise<string> {
  // Inside the repository, so the externals resolve from node_modules as they would from the runtime.
  const outdir = join(root, "bench/results/bundles", name);
  await mkdir(outdir, { recursive: true });
  const outfile = join(outdir, "index.mjs");
  await build({ ...esbuildOptions(entry), outfile });
  return outfile;
}

export async function measureBundles(ctx: BenchContext) {
  const result: Record<string, { kib: number; cold_import_ms: number; cold_import_without_sdk_ms: number }> =
    {};
  for (const [name, entry] of Object.entries(deployedFunctions())) {
    const outfile = await buildBundle(name, entry);
    const kib = (await stat(outfile)).size / 1024;
    const sdk = [
      ...new Set(
        [...(await readFile(outfile, "utf8")).matchAll(/from ?"(@aws-sdk\/[^"]+)"/g)].map((m) => m[1]),
      ),
    ];
    const times: number[] = [];
    const own: number[] = [];
    // Alternately whole and with the SDK preloaded, so machine noise falls on both.
    for (let r = 0; r < Math.max(5, ctx.repeats); r++) {
      for (const preload of [[], sdk]) {
        const child = await startChild<{ ms: number }>(
          "cold-import.ts",
          [outfile, JSON.stringify(preload)],
          functionEnv,
        );
        await child.stop();
        (preload.length === 0 ? times : own).push(child.ready.ms);
      }
    }
    result[name] = { kib, cold_import_ms: median(times), cold_import_without_sdk_ms: median(own) };
    ctx.log(
      `bundle ${name}: ${kib.toFixed(0)} KiB, cold import ${median(times).toFixed(0)} ms (${median(own).toFixed(0)} ms with the AWS SDK already loaded)`,
    );
  }
  return result;
}
