import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SqsPoller } from "../../infra/sandbox/poller.ts";
import { JobStore } from "../../lib/jobs/store.ts";
import { percentile, pool, printFigures } from "../reliability/figures.ts";
import { type FakeOpenAI, openaiError, startFakeOpenAI } from "../support/fake-openai.ts";
import { quietObservability, startLanePollers, workerFunction } from "../support/functions.ts";
import { httpClient } from "../support/http.ts";
import { type ServiceStack, startServiceStack } from "../support/service-stack.ts";

// Priority lanes (issue 16, §3): a burst of batch jobs, then a few interactive ones, on the sandbox's own worker
// pollers (two interactive slots, one batch slot) with a provider answering in 400 ms. The interactive jobs finish
// about as fast as on an idle service; the batch jobs all finish too. In one queue they would wait behind the burst.

const latencyMs = 400;
const burst = 16;
const interactive = 3;

let service: ServiceStack;
let fake: FakeOpenAI;
let pollers: SqsPoller[];
let store: JobStore;
let api: ReturnType<typeof httpClient>;

beforeAll(async () => {
  fake = await startFakeOpenAI({ latencyMs });
  const env = {
    OPENAI_API_KEY: "sk-fake-provider-key-for-lanes",
    OPENAI_BASE_URL: fake.baseURL,
    PLACEHOLDER_FALLBACK: "false",
    PROVIDER_MAX_RETRIES: "0",
  };
  service = await startServiceStack({ tenants: ["acme"], worker: false, env });
  const batchQueueUrl = service.stack.resources.batchQueueUrl as string;
  const lanes = { ...env, BATCH_QUEUE_URL: batchQueueUrl };
  const clients = service.stack.emulators.clients;
  const worker = workerFunction(service.stack.config(lanes), clients, {
    observability: quietObservability(),
  });
  store = new JobStore(clients.dynamodb, service.stack.names.table);
  api = httpClient(await service.serveApi(lanes), service.keys.acme);
  pollers = await startLanePollers(service.stack, worker);
});

afterAll(async () => {
  await Promise.all((pollers ?? []).map((p) => p.stop()));
  await service?.close();
  await fake?.close();
});

async function submit(priority: "interactive" | "batch" | undefined, n: number): Promise<string[]> {
  return pool(Array.from({ length: n }), 8, async (_, i) => {
    const res = await api.post("/v1/jobs", {
      operation: "generate",
      input: { prompt: `${priority ?? "default"} ${i}` },
      ...(priority && { priority }),
    });
    expect(res.status).toBe(202);
    expect(res.body.priority).toBe(priority ?? "interactive");
    return res.body.id as string;
  });
}

/** Each job's submission-to-finish time, once all have succeeded. */
async function completionMs(ids: readonly string[], timeoutMs: number): Promise<number[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const jobs = await Promise.all(ids.map((id) => store.get("acme", id, true)));
    if (jobs.every((j) => j?.status === "succeeded"))
      return jobs.map((j) => (j?.finished_at ?? 0) - (j?.created_at ?? 0));
    const failed = jobs.find((j) => j?.status === "failed" || j?.status === "canceled");
    if (failed) throw new Error(`Job ${failed.id} ended ${failed.status}: ${failed.error?.message}`);
    if (Date.now() > until) throw new Error(`The jobs did not all succeed in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("priority lanes", () => {
  it("the job says its priority; interactive when none is given, and it rejects others", async () => {
    const res = await api.post("/v1/jobs", {
      operation: "generate",
      input: { prompt: "x" },
      priority: "urgent",
    });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe("priority");
  });

  it(`${interactive} interactive jobs behind a burst of ${burst} batch jobs finish close to their idle time`, async () => {
    // Warm first (the first jobs pay for cold clients), then the idle figure.
    await completionMs(await submit(undefined, 2), 30_000);
    const idle = await completionMs(await submit(undefined, interactive), 30_000);
    const batchIds = await submit("batch", burst);
    const interactiveIds = await submit("interactive", interactive);
    const loaded = await completionMs(interactiveIds, 30_000);
    // The batch lane progresses on its own slot: every batch job finishes too.
    const batchTimes = await completionMs(batchIds, 60_000);
    printFigures("lanes", {
      "provider latency ms": latencyMs,
      "interactive slots / batch slots": "2 / 1",
      "interactive p95 ms, idle": percentile(idle, 95),
      "interactive p95 ms, behind the batch burst": percentile(loaded, 95),
      "batch jobs' last finish ms": Math.max(...batchTimes),
    });
    // In one queue the interactive jobs would wait for the burst: at least burst / 2 slots × 400 ms = 3.2 s.
    expect(percentile(loaded, 95)).toBeLessThanOrEqual(2 * percentile(idle, 95) + 300);
    expect(Math.max(...batchTimes)).toBeGreaterThan((burst * latencyMs) / 2);
    const batchJob = await store.get("acme", batchIds[0] as string, true);
    expect(batchJob?.priority).toBe("batch");
  });

  it("a batch job that failed once waits out its backoff on its own lane, then succeeds", async () => {
    fake.script(openaiError(503, "Overloaded", null, "server_error"));
    const [id] = await submit("batch", 1);
    const started = Date.now();
    // The backoff after a first failure is 3 to 5 s. Set on the wrong queue, the delay would fail (the receipt
    // handle is the batch queue's) and the message would come back only after its visibility timeout (60 s).
    const [ms] = await completionMs([id as string], 20_000);
    const job = await store.get("acme", id as string, true);
    expect(job?.attempts).toBe(2);
    expect(job?.last_error).toMatchObject({ type: "server_error" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_500);
    expect(ms).toBeLessThan(20_000);
  });
});
