import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GenerateInput } from "../../lib/jobs/model.ts";
import type { MetricName, Metrics } from "../../lib/metrics.ts";
import { startTestStack, type TestStack } from "../support/emulators.ts";
import { type FakeOpenAI, openaiError, startFakeOpenAI } from "../support/fake-openai.ts";
import { apiFunction, quietObservability, workerFunction } from "../support/functions.ts";

// The business metrics are recorded where the events happen; in Lambda they become EMF (test/unit/observability).

function recorder() {
  const records: [MetricName, number][] = [];
  const metrics: Metrics = { record: (name, value) => records.push([name, value]) };
  const of = (name: MetricName) => records.filter(([n]) => n === name).map(([, v]) => v);
  return { records, metrics, of };
}

describe("job metrics", () => {
  let stack: TestStack;
  let openai: FakeOpenAI;

  beforeAll(async () => {
    [stack, openai] = await Promise.all([startTestStack(), startFakeOpenAI()]);
  });
  afterAll(async () => {
    await Promise.all([stack?.emulators.stop(), openai?.close()]);
  });

  function pipeline(clock: { now: number }) {
    const config = stack.config({
      OPENAI_API_KEY: "sk-test-metrics-0123456789",
      OPENAI_BASE_URL: openai.baseURL,
      PROVIDER_MAX_RETRIES: "0",
    });
    const { clients } = stack.emulators;
    const api = recorder();
    const worker = recorder();
    const now = () => clock.now;
    const { jobs } = apiFunction(config, clients, { observability: quietObservability(api.metrics), now });
    const { runner } = workerFunction(config, clients, {
      observability: quietObservability(worker.metrics),
      now,
    });
    return { jobs, runner, api, worker };
  }

  const input = (n: number): GenerateInput => ({
    prompt: "metrics",
    model: "gpt-image-2",
    n,
    size: "1024x1024",
    output_format: "png",
    response_format: "url",
  });

  it("counts a created job, and a success with its images, provider latency and end-to-end latency", async () => {
    const clock = { now: Date.now() };
    const { jobs, runner, api, worker } = pipeline(clock);
    const job = await jobs.submit({
      principal: { tenant: "acme", keyId: "test", limits: {} },
      work: { operation: "generate", input: input(3) },
      provider: "openai",
    });
    expect(api.records).toEqual([["JobsCreated", 1]]);

    clock.now += 4_000;
    await expect(runner.run("acme", job.id, 1, () => 60_000)).resolves.toBe("succeeded");
    expect(worker.of("JobsSucceeded")).toEqual([1]);
    expect(worker.of("ImagesProduced")).toEqual([3]);
    expect(worker.of("EndToEndLatency")).toEqual([4_000]);
    const stored = await jobs.get("acme", job.id);
    expect(worker.of("ProviderLatency")).toEqual([stored?.usage?.provider_ms]);
    expect(worker.of("JobsFailed")).toEqual([]);
  });

  it("counts a failed job once, and no success", async () => {
    const clock = { now: Date.now() };
    const { jobs, runner, worker } = pipeline(clock);
    const job = await jobs.submit({
      principal: { tenant: "acme", keyId: "test", limits: {} },
      work: { operation: "generate", input: input(1) },
      provider: "openai",
    });
    openai.script(openaiError(400, "Your request was rejected by the safety system.", "moderation_blocked"));
    await expect(runner.run("acme", job.id, 1, () => 60_000)).resolves.toBe("failed");
    expect(worker.records).toEqual([["JobsFailed", 1]]);
    // A redelivered message for the settled job records nothing more.
    await expect(runner.run("acme", job.id, 2, () => 60_000)).resolves.toBe("skipped");
    expect(worker.records).toEqual([["JobsFailed", 1]]);
  });

  it("counts nothing for a job that will be retried", async () => {
    const clock = { now: Date.now() };
    const { jobs, runner, worker } = pipeline(clock);
    const job = await jobs.submit({
      principal: { tenant: "acme", keyId: "test", limits: {} },
      work: { operation: "generate", input: input(1) },
      provider: "openai",
    });
    openai.script(openaiError(503, "Overloaded", null, "server_error"));
    await expect(runner.run("acme", job.id, 1, () => 60_000)).rejects.toThrow();
    expect(worker.records).toEqual([]);
  });
});
