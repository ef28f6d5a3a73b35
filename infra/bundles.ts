import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { esbuildOptions, importsSharp, projectRoot } from "./bundling.ts";
import { functionSpecs } from "./functions.ts";
import { parseSettings } from "./settings.ts";

// `npm run bundles`: each function's minified bundle (as the stack builds it) and its cold import time: a fresh
// Node process importing the bundle, top-level code included (configuration, clients, Powertools), median of
// several runs. Also what Powertools adds on its own. Numbers vary with the machine; compare them on one.

const runs = 7;
const outDir = join(projectRoot, "node_modules/.cache/image-jobs-bundles");
rmSync(outDir, { recursive: true, force: true });

// What the stack sets, minus the secret (no network here); AWS_EXECUTION_ENV turns Powertools Tracer on.
const lambdaEnv = {
  PATH: process.env.PATH ?? "",
  AWS_REGION: "us-east-1",
  AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x",
  AWS_LAMBDA_FUNCTION_NAME: "bundles",
  AWS_ACCESS_KEY_ID: "bundles",
  AWS_SECRET_ACCESS_KEY: "bundles",
  JOBS_TABLE: "image-jobs",
  IMAGES_BUCKET: "image-jobs-images",
  JOBS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/image-jobs",
  WEBHOOKS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/image-jobs-webhooks",
  OPENAI_API_KEY: "sk-bundles-measurement-only",
  LOG_FORMAT: "json",
  LOG_LEVEL: "error",
  METRICS_NAMESPACE: "ImageJobs/bundles",
  TRACING: "true",
};

function coldImportMs(file: string): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    // The Lambda runtime gives every function the global `awslambda`; the streaming API's chain needs it when made.
    const runtime = "globalThis.awslambda ??= { streamifyResponse: (h) => h };";
    const script = `${runtime} const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); process.stdout.write(String(performance.now() - t));`;
    const res = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      env: lambdaEnv,
      encoding: "utf8",
    });
    if (res.status !== 0) throw new Error(`Importing ${file} failed:\n${res.stderr}`);
    times.push(Number(res.stdout));
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}

async function bundle(name: string, entry: string, contents?: string) {
  const file = join(outDir, name, "index.mjs");
  mkdirSync(join(outDir, name), { recursive: true });
  const { entryPoints, ...options } = esbuildOptions(entry);
  await build({
    ...options,
    ...(contents === undefined
      ? { entryPoints: entryPoints ?? [] }
      : { stdin: { contents, resolveDir: projectRoot, loader: "ts" } }),
    outfile: file,
    write: true,
  });
  const code = readFileSync(file);
  return {
    file,
    bytes: code.length,
    gzip: gzipSync(code).length,
    sharp: importsSharp(code.toString("utf8")),
  };
}

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
const rows: string[] = [];
const seen = new Set<string>();
for (const spec of functionSpecs({ ...parseSettings({}), functionUrl: true })) {
  if (seen.has(spec.entry) || !existsSync(join(projectRoot, spec.entry))) continue;
  seen.add(spec.entry);
  const b = await bundle(spec.id, spec.entry);
  rows.push(
    `| ${spec.id} | \`${spec.entry}\` | ${kib(b.bytes)} | ${kib(b.gzip)} | ${spec.bundleBudgetKiB} KiB | ${b.sharp ? "yes" : "no"} | ${coldImportMs(b.file).toFixed(0)} ms |`,
  );
}

// Parts of those numbers, alone: Powertools as lib/ imports it, and the external modules every function loads.
const keep = (names: string) => `Object.assign(globalThis, { keep: [${names}] });`;
const powertools = {
  "Powertools Logger + middleware": `import { Logger } from "@aws-lambda-powertools/logger"; import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware"; ${keep("Logger, injectLambdaContext")}`,
  "Powertools Metrics": `import { Metrics } from "@aws-lambda-powertools/metrics"; ${keep("Metrics")}`,
  "Powertools Tracer + middleware": `import { Tracer } from "@aws-lambda-powertools/tracer"; import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware"; ${keep("Tracer, captureLambdaHandler")}`,
  "AWS SDK clients (external: in the runtime)": `import { DynamoDBClient } from "@aws-sdk/client-dynamodb"; import { S3Client } from "@aws-sdk/client-s3"; import { SQSClient } from "@aws-sdk/client-sqs"; import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager"; import { getSignedUrl } from "@aws-sdk/s3-request-presigner"; import { marshall } from "@aws-sdk/util-dynamodb"; ${keep("DynamoDBClient, S3Client, SQSClient, SecretsManagerClient, getSignedUrl, marshall")}`,
  "sharp (external: beside the bundle)": `import sharp from "sharp"; ${keep("sharp")}`,
};
const extras: string[] = [];
for (const [name, contents] of Object.entries(powertools)) {
  const id = name.replace(/\W+/g, "-").toLowerCase();
  const b = await bundle(id, "functions/api.ts", contents);
  extras.push(`| ${name} | ${kib(b.bytes)} | ${kib(b.gzip)} | ${coldImportMs(b.file).toFixed(0)} ms |`);
}

const out = [
  `Bundles: esbuild, minified ESM, AWS SDK external (infra/bundling.ts). Cold import: median of ${runs} fresh Node ${process.versions.node} processes.`,
  "",
  "| Function | Entry | Bundle | gzip | Budget | sharp beside it | Cold import |",
  "|---|---|---|---|---|---|---|",
  ...rows,
  "",
  "| Alone | Bundle | gzip | Cold import |",
  "|---|---|---|---|",
  ...extras,
  "",
].join("\n");
writeFileSync(join(outDir, "report.md"), out);
process.stdout.write(out);
