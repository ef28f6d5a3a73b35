import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { build } from "esbuild";
import type { BenchContext } from "../context.ts";
import { root, startChild } from "../harness.ts";
import { median } from "../stats.ts";

// Cold start: each function's bundle size and its cold import time in a fresh process.
//
// ── Plug-in point for issue 5 (CDK stack) ────────────────────────────────────────────────────────────────────
// Until the stack's own bundling lands, this bundles the handlers with the options a Lambda bundle uses: minified
// ESM for node22, the AWS SDK external (the runtime ships it), sharp external (native; shipped as a layer or
// node_modules). When issue 5 merges, replace `bundleOptions` and `functions` with the stack's own definitions
// (or call its bundle-measurement script) so the bench measures exactly what is deployed.

export const functions = { api: "functions/api.ts", worker: "functions/worker.ts" } as const;

export const bundleOptions = {
  bundle: true,
  minify: true,
  platform: "node",
  target: "node22",
  format: "esm",
  external: ["@aws-sdk/*", "sharp"],
  // ESM output still meets CommonJS dependencies that call require().
  banner: {
    js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  },
  logLevel: "warning",
} as const;

// What the functions need to start; nothing is contacted during import.
const functionEnv = {
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: "bench",
  AWS_SECRET_ACCESS_KEY: "bench",
  JOBS_TABLE: "jobs",
  IMAGES_BUCKET: "images",
  JOBS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/jobs",
  WEBHOOKS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/jobs-webhooks",
  LOG_LEVEL: "warn",
};

/** Bundles one function as Lambda would run it; returns the file. */
export async function buildBundle(name: keyof typeof functions): Promise<string> {
  // Inside the repository, so the externals resolve from node_modules as they would from the runtime.
  const outdir = join(root, "bench/results/bundles");
  await mkdir(outdir, { recursive: true });
  const outfile = join(outdir, `${name}.mjs`);
  await build({
    ...bundleOptions,
    external: [...bundleOptions.external],
    entryPoints: [join(root, functions[name])],
    outfile,
  });
  return outfile;
}

export async function measureBundles(ctx: BenchContext) {
  const result: Record<string, { kib: number; cold_import_ms: number }> = {};
  for (const name of Object.keys(functions) as (keyof typeof functions)[]) {
    const outfile = await buildBundle(name);
    const kib = (await stat(outfile)).size / 1024;
    const times: number[] = [];
    for (let r = 0; r < Math.max(5, ctx.repeats); r++) {
      const child = await startChild<{ ms: number }>("cold-import.ts", [outfile], functionEnv);
      await child.stop();
      times.push(child.ready.ms);
    }
    result[name] = { kib, cold_import_ms: median(times) };
    ctx.log(`bundle ${name}: ${kib.toFixed(0)} KiB, cold import ${median(times).toFixed(0)} ms`);
  }
  return result;
}
