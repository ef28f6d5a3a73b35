import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { build, type Metafile } from "esbuild";
import { beforeAll, describe, expect, it } from "vitest";
import { writeApiReference } from "../../infra/api-reference.ts";
import { esbuildOptions, importsSharp, projectRoot } from "../../infra/bundling.ts";
import { type FunctionSpec, functionSpecs } from "../../infra/functions.ts";
import { parseSettings } from "../../infra/settings.ts";
import { lambdaResponseLimitBytes } from "../../lib/api/http.ts";
import { startTestStack } from "../support/emulators.ts";
import { startFakeOpenAI } from "../support/fake-openai.ts";
import { startTestService } from "../support/service.ts";

// Lean bundles: each function bundled as the stack bundles it (infra/bundling.ts), held to its budget.
// Cold import times are measured by `npm run bundles`, never asserted here.

interface Built {
  spec: FunctionSpec;
  code: string;
  inputs: string[];
}

const specs = functionSpecs({ ...parseSettings({}), functionUrl: true }).filter((s) =>
  existsSync(join(projectRoot, s.entry)),
);
const built = new Map<string, Built>();

beforeAll(async () => {
  const entries = [...new Map(specs.map((s) => [s.entry, s])).values()];
  await Promise.all(
    entries.map(async (spec) => {
      const result = await build({
        ...esbuildOptions(spec.entry),
        outfile: "index.mjs",
        write: false,
        metafile: true,
      });
      const output = result.outputFiles?.[0];
      if (!output) throw new Error(`No output for ${spec.entry}`);
      const meta = result.metafile as Metafile;
      // Modules esbuild read but tree-shook away contribute no bytes; only the rest are in the bundle.
      const contributed = Object.values(meta.outputs)[0]?.inputs ?? {};
      const inputs = Object.entries(contributed)
        .filter(([, i]) => i.bytesInOutput > 0)
        .map(([path]) => path);
      built.set(spec.entry, { spec, code: output.text, inputs });
    }),
  );
});

const bundleOf = (spec: FunctionSpec) => {
  const b = built.get(spec.entry);
  if (!b) throw new Error(`${spec.entry} was not bundled`);
  return b;
};

/** Runs `script` (an ES module importing a built bundle) in a fresh Node, with a deployed API function's settings. */
function runBundleScript(script: string) {
  return spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    env: {
      PATH: process.env.PATH ?? "",
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      JOBS_TABLE: "image-jobs",
      IMAGES_BUCKET: "image-jobs-images",
      JOBS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/image-jobs",
      WEBHOOKS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/image-jobs-webhooks",
      LOG_LEVEL: "error",
    },
    encoding: "utf8",
  });
}
describe("function bundles", () => {
  it("bundle every function the stack deploys", () => {
    expect(specs.map((s) => s.id)).toEqual(expect.arrayContaining(["Api", "Worker", "DeadLetters"]));
  });

  it.each(specs.map((s) => [s.id, s] as const))("%s stays within its budget", (_id, spec) => {
    const kib = Buffer.byteLength(bundleOf(spec).code) / 1024;
    expect(kib).toBeGreaterThan(1);
    expect(kib).toBeLessThanOrEqual(spec.bundleBudgetKiB);
  });

  it("leave the AWS SDK to the Lambda runtime", () => {
    for (const spec of specs) {
      const { code, inputs } = bundleOf(spec);
      expect(inputs.some((i) => i.includes("node_modules/@aws-sdk/"))).toBe(false);
      expect(code).toMatch(/from"@aws-sdk\/client-dynamodb"/);
    }
  });

  it("keep the provider SDK out of the API: it routes jobs, the worker calls providers", () => {
    const api = bundleOf(specs.find((s) => s.id === "Api") as FunctionSpec);
    const worker = bundleOf(specs.find((s) => s.id === "Worker") as FunctionSpec);
    expect(api.inputs.some((i) => i.includes("node_modules/openai/"))).toBe(false);
    expect(worker.inputs.some((i) => i.includes("node_modules/openai/"))).toBe(true);
  });

  it("keep the Bedrock client out of the API: only the worker calls Bedrock", () => {
    const api = bundleOf(specs.find((s) => s.id === "Api") as FunctionSpec);
    const worker = bundleOf(specs.find((s) => s.id === "Worker") as FunctionSpec);
    expect(api.code).not.toMatch(/client-bedrock-runtime/);
    expect(api.inputs.some((i) => i.endsWith("lib/providers/bedrock.ts"))).toBe(false);
    expect(worker.code).toMatch(/from"@aws-sdk\/client-bedrock-runtime"/);
    expect(worker.inputs.some((i) => i.endsWith("lib/providers/bedrock.ts"))).toBe(true);
  });

  it("keep the X-Ray SDK out of the API, whose cold start users wait on; the queue consumers trace", () => {
    const xray = (s: FunctionSpec) =>
      bundleOf(s).inputs.some((i) => /node_modules\/(aws-xray-sdk|@aws-lambda-powertools\/tracer)/.test(i));
    const traced = Object.fromEntries(specs.map((s) => [s.id, xray(s)]));
    expect(traced).toMatchObject({ Api: false, Worker: true, DeadLetters: true, Webhooks: true });
  });

  it("let the API load sharp on first use, not at cold start (most requests carry no image)", () => {
    const { code } = bundleOf(specs.find((s) => s.id === "Api") as FunctionSpec);
    expect(code).toMatch(/import\("sharp"\)/);
    expect(code).not.toMatch(/from ?"sharp"/);
  });

  it("bundle zod/mini without zod's locales or the classic API", () => {
    for (const spec of specs) {
      const { inputs } = bundleOf(spec);
      expect(inputs.filter((i) => /node_modules\/zod\/.*locales\//.test(i))).toEqual([]);
      expect(inputs.filter((i) => /node_modules\/zod\/v4\/classic\//.test(i))).toEqual([]);
    }
  });

  it("say when they need sharp beside them, which the stack copies in (worker yes, DLQ consumer no)", () => {
    const needs = Object.fromEntries(specs.map((s) => [s.id, importsSharp(bundleOf(s).code)]));
    expect(needs.Worker).toBe(true);
    expect(needs.DeadLetters).toBe(false);
    expect(needs.Webhooks).toBe(false);
    // The grep pattern the stack uses matches esbuild's minified form.
    expect(importsSharp('import a from"sharp";')).toBe(true);
    expect(importsSharp('import a from "sharp-like";')).toBe(false);
  });

  it("are ESM with a require() for bundled CommonJS", () => {
    for (const spec of specs) {
      expect(
        bundleOf(spec).code.startsWith("import { createRequire as __createRequire } from 'node:module';"),
      ).toBe(true);
    }
  });

  it("keep the API reference generator out of the API: the bundle reads the reference its build wrote", () => {
    const api = bundleOf(specs.find((s) => s.id === "Api") as FunctionSpec);
    const generator =
      /lib\/api\/reference\/(document|generate|page|responses)\.ts$|zod\/v4\/core\/(to-json-schema|json-schema)/;
    expect(api.inputs.filter((i) => generator.test(i))).toEqual([]);
    expect(api.inputs).toContain("lib/api/reference/serve.ts");
    // The name the stack's post-bundling step looks for (infra/bundling.ts, apiReferenceCommand).
    expect(api.code).toContain("api-reference.json");
    // Both front doors serve it (the Function URL's streaming handler too); no other function does.
    for (const spec of specs.filter((s) => s.http === undefined)) {
      expect(bundleOf(spec).code).not.toContain("api-reference.json");
    }
  });

  it("serve /openapi.json and /docs from the API bundle, as deployed", () => {
    // Under the project, so the bundle's external modules (AWS SDK, sharp) resolve as the Lambda runtime's would.
    const dir = join(projectRoot, "node_modules/.cache/image-jobs-reference-test");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const api = bundleOf(specs.find((s) => s.id === "Api") as FunctionSpec);
    writeFileSync(join(dir, "index.mjs"), api.code);
    const written = JSON.parse(readFileSync(writeApiReference(dir), "utf8"));
    const script = `
      const { handler } = await import(${JSON.stringify(pathToFileURL(join(dir, "index.mjs")).href)});
      const context = { functionName: "api", awsRequestId: "r", getRemainingTimeInMillis: () => 30000 };
      const get = (rawPath) => handler({ version: "2.0", rawPath, rawQueryString: "", headers: {}, isBase64Encoded: false,
        requestContext: { requestId: "r", http: { method: "GET", path: rawPath } } }, context);
      process.stdout.write(JSON.stringify([await get("/openapi.json"), await get("/docs")]));`;
    const res = runBundleScript(script);
    expect(res.stderr).toBe("");
    const [openapi, docs] = JSON.parse(res.stdout);
    expect([openapi.statusCode, openapi.headers["content-type"]]).toEqual([
      200,
      "application/json; charset=utf-8",
    ]);
    expect(openapi.body).toBe(written.openapi);
    expect(JSON.parse(openapi.body).paths["/v1/images/generations"].post.operationId).toBe("createImage");
    expect([docs.statusCode, docs.headers["content-type"]]).toEqual([200, "text/html; charset=utf-8"]);
    expect(docs.body).toBe(written.docs);
    expect(docs.headers["content-security-policy"]).toBe(written.docsCsp);
  });

  it("stream through Lambda's response streaming from the Function URL's bundle, as deployed", () => {
    // The Lambda runtime gives RESPONSE_STREAM functions a global `awslambda`: stand in for it with a stream that
    // records the prelude (HttpResponseStream.from) and each chunk, as the runtime would send them.
    const dir = join(projectRoot, "node_modules/.cache/image-jobs-stream-test");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const streaming = bundleOf(specs.find((s) => s.http === "url") as FunctionSpec);
    expect(streaming.spec.entry).toBe("functions/api-stream.ts");
    writeFileSync(join(dir, "index.mjs"), streaming.code);
    writeApiReference(dir);
    const script = `
      import { Writable } from "node:stream";
      globalThis.awslambda = { ...globalThis.awslambda, streamifyResponse: (h) => h,
        HttpResponseStream: { from: (stream, prelude) => { stream.prelude = prelude; return stream; } } };
      const { handler } = await import(${JSON.stringify(pathToFileURL(join(dir, "index.mjs")).href)});
      const context = { functionName: "api", awsRequestId: "r", getRemainingTimeInMillis: () => 30000 };
      const chunks = [];
      const stream = new Writable({ write(chunk, _, done) { chunks.push(chunk.toString()); done(); } });
      await handler({ version: "2.0", rawPath: "/openapi.json", rawQueryString: "", headers: {}, isBase64Encoded: false,
        requestContext: { requestId: "r", http: { method: "GET", path: "/openapi.json" } } }, stream, context);
      process.stdout.write(JSON.stringify({ prelude: stream.prelude, body: chunks.join(""), ended: stream.writableFinished }));`;
    const res = runBundleScript(script);
    expect(res.stderr).toBe("");
    const { prelude, body, ended } = JSON.parse(res.stdout);
    expect(prelude).toMatchObject({
      statusCode: 200,
      headers: { "content-type": "application/json; charset=utf-8" },
    });
    expect(prelude).not.toHaveProperty("body");
    expect(JSON.parse(body).paths["/v1/jobs/{id}/events"].get.operationId).toBe("streamJobEvents");
    expect(ended).toBe(true);
  });
});

describe("the API bundle, as deployed, within Lambda's 6 MB response", () => {
  it("answers base64 over 6 MB with response_too_large, never a body Lambda would refuse", async () => {
    // The worker runs here, against emulators and a fake OpenAI whose images weigh what real ones do; the API is
    // the built bundle in its own process, invoked as Lambda invokes it, and its answer measured as Lambda would.
    const [stack, photos] = await Promise.all([startTestStack(), startFakeOpenAI({ texture: "photo" })]);
    const providerEnv = { OPENAI_API_KEY: "sk-proj-bundle-test-0001", OPENAI_BASE_URL: photos.baseURL };
    const worker = await startTestService(stack, providerEnv);
    try {
      const dir = join(projectRoot, "node_modules/.cache/image-jobs-response-cap-test");
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "index.mjs"), bundleOf(specs.find((s) => s.id === "Api") as FunctionSpec).code);
      const script = `
        const { handler } = await import(${JSON.stringify(pathToFileURL(join(dir, "index.mjs")).href)});
        const context = { functionName: "api", awsRequestId: "r", getRemainingTimeInMillis: () => 29000 };
        const post = (body) => handler({ version: "2.0", rawPath: "/v1/images/generations", rawQueryString: "",
          headers: { authorization: "Bearer ${worker.key}", "content-type": "application/json" },
          body: JSON.stringify(body), isBase64Encoded: false,
          requestContext: { requestId: "r", http: { method: "POST", path: "/v1/images/generations" } } }, context);
        const big = { prompt: "a city at night", n: 4, size: "1536x1024" };
        const answers = [await post(big), await post({ ...big, response_format: "url" })];
        // What Lambda measures: the result, serialised.
        process.stdout.write(JSON.stringify(answers.map((a) => ({ ...a, payloadBytes: Buffer.byteLength(JSON.stringify(a)) }))));`;
      const endpoints = stack.config();
      const { stdout, stderr } = await promisify(execFile)(
        process.execPath,
        ["--input-type=module", "-e", script],
        {
          env: {
            PATH: process.env.PATH ?? "",
            AWS_REGION: "us-east-1",
            AWS_ACCESS_KEY_ID: "test",
            AWS_SECRET_ACCESS_KEY: "test",
            AWS_ENDPOINT_URL: endpoints.AWS_ENDPOINT_URL ?? "",
            AWS_ENDPOINT_URL_DYNAMODB: endpoints.AWS_ENDPOINT_URL_DYNAMODB ?? "",
            JOBS_TABLE: stack.names.table,
            IMAGES_BUCKET: stack.names.bucket,
            JOBS_QUEUE_URL: stack.resources.jobsQueueUrl,
            WEBHOOKS_QUEUE_URL: stack.resources.webhooksQueueUrl,
            OPENAI_API_KEY: providerEnv.OPENAI_API_KEY,
            SYNC_WAIT_MS: "25000",
            LOG_LEVEL: "error",
          },
          maxBuffer: 64 * 1024 * 1024,
        },
      );
      expect(stderr).toBe("");
      const [tooLarge, urls] = JSON.parse(stdout);
      expect(tooLarge.statusCode).toBe(400);
      expect(JSON.parse(tooLarge.body).error).toMatchObject({
        type: "invalid_request_error",
        param: "response_format",
        code: "response_too_large",
      });
      expect(tooLarge.headers["x-job-id"]).toMatch(/^job_/);
      expect(urls.statusCode).toBe(200);
      expect(JSON.parse(urls.body).data).toHaveLength(4);
      for (const answer of [tooLarge, urls])
        expect(answer.payloadBytes).toBeLessThanOrEqual(lambdaResponseLimitBytes);
      // The images were real weight: four of them as base64 would not have fitted.
      const job = await fetch(`${worker.url}/v1/jobs/${tooLarge.headers["x-job-id"]}`, {
        headers: { authorization: `Bearer ${worker.key}` },
      }).then((r) => r.json() as Promise<{ output: { images: { bytes: number }[] } }>);
      const b64 = job.output.images.reduce((sum, i) => sum + (i.bytes * 4) / 3, 0);
      expect(b64).toBeGreaterThan(lambdaResponseLimitBytes);
    } finally {
      await worker.stop();
      await photos.close();
      await stack.emulators.stop();
    }
  }, 120_000);
});
