import { loadavg } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqsPoller } from "../../infra/sandbox/poller.ts";
import { JobStore } from "../../lib/jobs/store.ts";
import { createLogger } from "../../lib/logging.ts";
import { createClients } from "../../lib/runtime.ts";
import { credentials } from "../support/emulators.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../support/fake-openai.ts";
import { workerFunction } from "../support/functions.ts";
import { httpClient } from "../support/http.ts";
import { type ServiceStack, startServiceStack } from "../support/service-stack.ts";
import { full, pool, printFigures } from "./figures.ts";

// Provider limits shared by every worker (issue 16, item 2): three independent worker runtimes (each with its
// own clients, runner and poller, as three Lambda instances or `npm run sandbox:worker` processes) on the same
// emulators, one provider key pool with a tier of `limit` images per window. The fake provider must never see more
// than `limit` image calls in any window-long span (tolerance: 0), and every job must succeed exactly once.
// Full size: 60 images per minute, 200 jobs (about 3.5 minutes). Reduced (npm test): 6 per 10 s window, 15 jobs.

const limit = full ? 60 : 6;
const windowSeconds = full ? 60 : 10;
const jobs = full ? 200 : 15;
const runtimes = 3;

let service: ServiceStack;
let fake: FakeOpenAI;
const pollers: SqsPoller[] = [];
let store: JobStore;

beforeAll(async () => {
  fake = await startFakeOpenAI({ latencyMs: 50 });
  const env = {
    OPENAI_API_KEY: "sk-fake-default-key-never-recorded",
    OPENAI_BASE_URL: fake.baseURL,
    PLACEHOLDER_FALLBACK: "false",
    PROVIDER_MAX_RETRIES: "0",
    PROJECT_B_KEY: "sk-fake-project-b-key-never-recorded",
    PROVIDER_RATE_LIMITS: JSON.stringify({
      openai: [
        // Two projects pooled; together they make the tier under test.
        { name: "project-a", images_per_minute: limit / 2, window_seconds: windowSeconds },
        {
          name: "project-b",
          images_per_minute: limit / 2,
          window_seconds: windowSeconds,
          api_key_env: "PROJECT_B_KEY",
        },
      ],
    }),
  };
  service = await startServiceStack({ tenants: ["acme"], worker: false, env });
  store = new JobStore(service.stack.emulators.clients.dynamodb, service.stack.names.table);
  for (let i = 0; i < runtimes; i++) {
    // Each runtime has clients of its own: nothing is shared but the emulators.
    const config = service.stack.config(env);
    const clients = createClients(config, { credentials });
    const worker = workerFunction(config, clients).handler;
    const poller = new SqsPoller({
      sqs: clients.sqs,
      queueUrl: service.stack.resources.jobsQueueUrl,
      queueArn: "arn:aws:sqs:us-east-1:000000000000:jobs",
      functionName: `worker-${i}`,
      handler: worker,
      batchSize: 1,
      concurrency: 4,
      functionTimeoutMs: 60_000,
      logger: createLogger({ level: "silent", format: "json", service: "test" }),
    });
    poller.start();
    pollers.push(poller);
  }
});

afterAll(async () => {
  await Promise.all(pollers.map((p) => p.stop()));
  await service?.close();
  await fake?.close();
});

/** The most image calls the fake saw in any span of `ms` (a sliding window over arrival times). */
function maxInAnySpan(times: readonly number[], ms: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while ((sorted[end] as number) - (sorted[start] as number) >= ms) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}

describe("provider limits shared by every worker", () => {
  it(`${jobs} jobs, ${runtimes} worker runtimes, ${limit} images per ${windowSeconds} s: never over, none lost or doubled`, async () => {
    const api = httpClient(service.url, service.keys.acme);
    const started = Date.now();
    const ids = await pool(Array.from({ length: jobs }), 8, async (_, i) => {
      const res = await api.post("/v1/jobs", { operation: "generate", input: { prompt: `limited ${i}` } });
      expect(res.status).toBe(202);
      return res.body.id as string;
    });
    // The pace is the tier's: about jobs / limit windows (each window counted as 13/12 of itself).
    const until = Date.now() + ((jobs / limit + 3) * windowSeconds * 13 * 1000) / 12 + 30_000;
    let done = await Promise.all(ids.map((id) => store.get("acme", id, true)));
    while (!done.every((j) => j?.status === "succeeded") && Date.now() < until) {
      expect(done.filter((j) => j?.status === "failed" || j?.status === "canceled")).toEqual([]);
      await new Promise((r) => setTimeout(r, 250));
      done = await Promise.all(ids.map((id) => store.get("acme", id, true)));
    }
    const elapsedS = (Date.now() - started) / 1000;
    const calls = fake.requests.filter((r) => r.path === "/v1/images/generations");
    const busiest = maxInAnySpan(
      calls.map((c) => c.startedAt),
      windowSeconds * 1000,
    );
    const byKey = new Map<string, number>();
    for (const j of done)
      byKey.set(j?.provider_key ?? "none", (byKey.get(j?.provider_key ?? "none") ?? 0) + 1);
    printFigures("provider limits", {
      "worker runtimes": runtimes,
      "limit (images per window)": limit,
      "window s": windowSeconds,
      jobs,
      succeeded: done.filter((j) => j?.status === "succeeded").length,
      "provider image calls": calls.length,
      "most calls in any window": busiest,
      "elapsed s": elapsedS.toFixed(1),
      "jobs by key": [...byKey].map(([k, n]) => `${k} ${n}`).join(", "),
      "load average (1 min)": loadavg()[0]?.toFixed(2) ?? "n/a",
    });
    // 0 lost: every job succeeded. 0 duplicated: one provider call per job, no retries.
    expect(done.map((j) => j?.status)).toEqual(ids.map(() => "succeeded"));
    expect(calls).toHaveLength(jobs);
    // Tolerance 0: never more than the tier in any window-long span.
    expect(busiest).toBeLessThanOrEqual(limit);
    // Waiting jobs were delayed, not attempted: each job took exactly one attempt.
    expect(done.map((j) => j?.attempts)).toEqual(ids.map(() => 1));
    // Both pooled keys served (least loaded first), each call with its own key; jobs name the key, never its value.
    expect(byKey.get("project-a")).toBeGreaterThan(0);
    expect(byKey.get("project-b")).toBeGreaterThan(0);
    const auth = calls.map((c) => c.headers.authorization);
    expect(auth.filter((a) => a === "Bearer sk-fake-project-b-key-never-recorded")).toHaveLength(
      byKey.get("project-b") ?? -1,
    );
    expect(JSON.stringify(done)).not.toMatch(/never-recorded/);
  });
});
