import type { Tracer } from "@aws-lambda-powertools/tracer";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { afterEach, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../lib/config.ts";
import { createJsonLogger, createLogger } from "../../lib/logging.ts";
import { createEmfMetrics } from "../../lib/metrics.ts";
import {
  flushMetrics,
  logContext,
  type Observability,
  traceHandler,
} from "../../lib/middleware/observability.ts";
import { createClients, createObservability } from "../../lib/runtime.ts";
import { createTracing } from "../../lib/tracing.ts";
import type { Json } from "../support/http.ts";

const providerKey = "sk-proj-observability-test-key-0123456789";

const baseEnv = {
  AWS_REGION: "us-east-1",
  JOBS_TABLE: "jobs",
  IMAGES_BUCKET: "images",
  JOBS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/jobs",
  WEBHOOKS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/jobs-webhooks",
};

function lambdaContext(functionName: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: "1024",
    awsRequestId: "c6af9ac6-7b61-11e6-9a41-93e812345678",
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "2026/01/01/[$LATEST]abc",
    getRemainingTimeInMillis: () => 10_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

const parseLines = (lines: string[]): Json[] => lines.map((l) => JSON.parse(l));

describe("JSON logs (Powertools Logger)", () => {
  it("writes one JSON object per line with the level, message, service and bound fields", () => {
    const lines: string[] = [];
    const { logger } = createJsonLogger({
      level: "info",
      format: "json",
      service: "worker",
      write: (l) => lines.push(l),
    });
    logger.child({ jobId: "job_1", tenant: "acme" }).info("Job message processed", { outcome: "succeeded" });
    const [line] = parseLines(lines);
    expect(line).toMatchObject({
      level: "INFO",
      message: "Job message processed",
      service: "worker",
      jobId: "job_1",
      tenant: "acme",
      outcome: "succeeded",
    });
    expect(Date.parse(line.timestamp)).not.toBeNaN();
  });

  it("drops lines below the level", () => {
    const lines: string[] = [];
    const { logger } = createJsonLogger({
      level: "warn",
      format: "json",
      service: "api",
      write: (l) => lines.push(l),
    });
    logger.info("quiet");
    logger.debug("quieter");
    logger.warn("loud");
    expect(parseLines(lines).map((l) => l.message)).toEqual(["loud"]);
  });

  it("masks secrets in messages, fields, nested values and error messages and stacks", () => {
    const lines: string[] = [];
    const { logger } = createJsonLogger({
      level: "info",
      format: "json",
      service: "worker",
      secrets: [providerKey],
      write: (l) => lines.push(l),
    });
    const err = new Error(`Incorrect API key provided: ${providerKey}`, {
      cause: new Error("Authorization: Bearer abcdefghijklmnopqrstuvwxyz"),
    });
    logger.error(`call failed for ${providerKey}`, {
      err,
      request: { headers: { authorization: `Bearer ${providerKey}` } },
      url: "https://bucket.s3.amazonaws.com/k.png?X-Amz-Signature=deadbeefcafe&X-Amz-Credential=AKIA123",
    });
    const text = lines.join("\n");
    expect(text).not.toContain(providerKey);
    expect(text).not.toContain(providerKey.slice(8, 30));
    expect(text).not.toContain("abcdefghijklmnopqrstuvwxyz");
    expect(text).not.toContain("deadbeefcafe");
    const [line] = parseLines(lines);
    expect(line.message).toBe("call failed for [redacted]");
    expect(line.err.name).toBe("Error");
    expect(line.err.message).toBe("Incorrect API key provided: [redacted]");
    expect(line.err.stack).toContain("Incorrect API key provided: [redacted]");
    expect(line.url).toContain("X-Amz-Signature=[redacted]");
  });

  it("keeps readable lines in the sandbox, with the same masking", () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: "info",
      format: "pretty",
      service: "sandbox",
      secrets: [providerKey],
      write: (l) => lines.push(l),
    });
    logger.child({ jobId: "job_1" }).warn("retry", { key: providerKey });
    expect(lines[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} WARN {2}\[sandbox\] retry jobId=job_1 key=\[redacted\]$/,
    );
  });
});

describe("EMF metrics (Powertools Metrics)", () => {
  it("flushes recorded metrics as one EMF document with names, units, namespace and service", () => {
    const lines: string[] = [];
    const { metrics, powertools } = createEmfMetrics({
      namespace: "ImageJobs/test",
      service: "worker",
      write: (l) => lines.push(l),
    });
    metrics.record("JobsSucceeded", 1);
    metrics.record("ImagesProduced", 3);
    metrics.record("ProviderLatency", 1234);
    expect(lines).toEqual([]);
    powertools.publishStoredMetrics();
    const [emf] = parseLines(lines);
    const directive = emf._aws.CloudWatchMetrics[0];
    expect(directive.Namespace).toBe("ImageJobs/test");
    expect(directive.Dimensions).toEqual([["service"]]);
    expect(directive.Metrics).toEqual(
      expect.arrayContaining([
        { Name: "JobsSucceeded", Unit: "Count" },
        { Name: "ImagesProduced", Unit: "Count" },
        { Name: "ProviderLatency", Unit: "Milliseconds" },
      ]),
    );
    expect(emf).toMatchObject({
      service: "worker",
      JobsSucceeded: 1,
      ImagesProduced: 3,
      ProviderLatency: 1234,
    });
  });
});

/** A handler behind the observability middlewares, in the order every function's chain (functions/*.ts) uses. */
function observed<E, R>(o: Observability, handler: (event: E) => Promise<R>) {
  return middy<E, R>().use(traceHandler(o)).use(logContext(o)).use(flushMetrics(o)).handler(handler);
}

describe("instrumented handlers", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });
  const config = loadConfig({
    ...baseEnv,
    LOG_FORMAT: "json",
    LOG_LEVEL: "info",
    METRICS_NAMESPACE: "ImageJobs/test",
    OPENAI_API_KEY: providerKey,
  });

  it("add the Lambda context to every line and flush the invocation's metrics after it", async () => {
    // Lambda sets this; Powertools reports cold starts only for on-demand environments.
    vi.stubEnv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand");
    const lines: string[] = [];
    const o = createObservability(config, "worker", { write: (l) => lines.push(l) });
    const handler = observed(o, async (event: { jobId: string }) => {
      o.logger.child({ jobId: event.jobId, tenant: "acme" }).info("running", { key: providerKey });
      o.metrics.record("JobsSucceeded", 1);
      expect(lines.some((l) => l.includes('"_aws"'))).toBe(false);
      return "done";
    });
    // Powertools writes its cold start metric through a console of its own, to stdout.
    const stdout: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      stdout.push(String(chunk));
      return true;
    });
    try {
      await expect(handler({ jobId: "job_42" }, lambdaContext("image-jobs-worker"))).resolves.toBe("done");
    } finally {
      spy.mockRestore();
    }
    const coldStart = JSON.parse(stdout.join("").trim());
    expect(coldStart).toMatchObject({ ColdStart: 1, function_name: "image-jobs-worker", service: "worker" });
    const out = parseLines(lines);
    const log = out.find((l) => l.message === "running");
    expect(log).toMatchObject({
      jobId: "job_42",
      tenant: "acme",
      key: "[redacted]",
      function_name: "image-jobs-worker",
      function_request_id: "c6af9ac6-7b61-11e6-9a41-93e812345678",
      cold_start: true,
    });
    const emf = out.filter((l) => l._aws);
    const business = emf.find((l) => l.JobsSucceeded !== undefined);
    expect(business?._aws.CloudWatchMetrics[0].Namespace).toBe("ImageJobs/test");
    expect(business?.service).toBe("worker");
  });

  it("write nothing about metrics for an invocation that recorded none", async () => {
    const lines: string[] = [];
    const o = createObservability(config, "api", { write: (l) => lines.push(l) });
    const handler = observed(o, async () => "quiet");
    const stdout: string[] = [];
    const capture = (chunk: unknown) => {
      stdout.push(String(chunk));
      return true;
    };
    const spies = [
      vi.spyOn(process.stdout, "write").mockImplementation(capture),
      vi.spyOn(process.stderr, "write").mockImplementation(capture),
    ];
    try {
      await handler({}, lambdaContext("image-jobs-api"));
      await handler({}, lambdaContext("image-jobs-api"));
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    // At most the cold start metric, once; no "No application metrics to publish" warning per invocation.
    const all = [...lines, ...stdout].join("\n");
    expect(all).not.toContain("No application metrics");
    expect(lines.filter((l) => l.includes('"_aws"'))).toEqual([]);
  });

  it("run the same chain in the sandbox, whose settings leave each middleware doing nothing", async () => {
    const o = createObservability(loadConfig({ ...baseEnv, LOG_FORMAT: "pretty" }), "worker");
    expect(o.powertools).toEqual({});
    const [trace, log, metrics] = [traceHandler(o), logContext(o), flushMetrics(o)];
    // The one shared no-op: nothing is wrapped, written or flushed.
    expect(log).toBe(trace);
    expect(metrics).toBe(trace);
    expect(Object.keys(trace)).toEqual(["before"]);
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    try {
      await expect(observed(o, async () => "same")({}, lambdaContext("image-jobs-worker"))).resolves.toBe(
        "same",
      );
      expect(stdout).not.toHaveBeenCalled();
    } finally {
      stdout.mockRestore();
    }
  });

  it("load the tracer only when TRACING is on, and trace the handler without copying its response", async () => {
    expect(await createTracing(loadConfig(baseEnv), "worker")).toBeUndefined();
    const tracing = await createTracing(loadConfig({ ...baseEnv, TRACING: "true" }), "worker");
    expect(typeof tracing?.tracer.captureAWSv3Client).toBe("function");
    expect(typeof tracing?.middleware.before).toBe("function");
    const o = createObservability(loadConfig({ ...baseEnv, LOG_FORMAT: "pretty" }), "worker", { tracing });
    expect(o.tracer).toBe(tracing?.tracer);
    // The chain's tracing middleware is Powertools' captureLambdaHandler, as the function was given it.
    expect(traceHandler(o)).toBe(tracing?.middleware);
  });

  it("trace every AWS client when tracing is on", () => {
    const captured: unknown[] = [];
    const tracer = {
      captureAWSv3Client: <T>(client: T) => {
        captured.push(client);
        return client;
      },
    } as unknown as Tracer;
    const clients = createClients(loadConfig({ ...baseEnv, TRACING: "true" }), { tracer });
    expect(captured).toEqual([clients.s3, clients.sqs, clients.dynamodb]);
  });
});
