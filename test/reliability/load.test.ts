import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resourceNames } from "../../infra/resources.ts";
import { connectEmulators, type Emulators } from "../../infra/sandbox/emulators.ts";
import { listKeys } from "../support/emulators.ts";
import { type FakeOpenAI, openaiError, startFakeOpenAI } from "../support/fake-openai.ts";
import { httpClient, type Json } from "../support/http.ts";
import { type SandboxProcess, startSandboxProcess } from "../support/sandbox-process.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.ts";
import { full, percentile, pool, printFigures, seed, seededRandom, sizes } from "./figures.ts";

// Load against `npm start` (a real process with its emulators): many jobs from many concurrent clients while
// the provider answers 429 to 20% of calls and 500 to 5%. Every job ends, none is lost, none makes a second
// set of images, and every webhook event reaches the local receiver exactly once.

let sandbox: SandboxProcess;
let fake: FakeOpenAI;
let receiver: WebhookReceiver;
let emulators: Emulators;

const rateLimited = openaiError(
  429,
  "Rate limit reached for images per minute.",
  "rate_limit_exceeded",
  "requests",
);
const serverError = openaiError(
  500,
  "The server had an error while processing your request.",
  null,
  "server_error",
);

beforeAll(async () => {
  // Faults drawn from the suite's seed: the same share of 429s and 500s on every run.
  fake = await startFakeOpenAI({
    latencyMs: 20,
    faults: [
      { rate: 0.2, response: rateLimited },
      { rate: 0.05, response: serverError },
    ],
    random: seededRandom(seed),
  });
  receiver = await startWebhookReceiver();
  sandbox = await startSandboxProcess({
    OPENAI_API_KEY: "sk-fake-provider-key-for-load",
    OPENAI_BASE_URL: fake.baseURL,
    PLACEHOLDER_FALLBACK: "false",
    // The receiver is on loopback.
    ALLOW_PRIVATE_URLS: "true",
    WORKER_CONCURRENCY: "16",
    LOG_LEVEL: "error",
  });
  emulators = connectEmulators(sandbox);
});

afterAll(async () => {
  await sandbox?.stop("SIGTERM");
  await Promise.all([fake?.close(), receiver?.close(), emulators?.stop()]);
});

const outputObjects = () => listKeys(emulators.clients.s3, resourceNames.bucket, "tenants/local/jobs/");

function countBy<T>(items: readonly T[], key: (t: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const i of items) m.set(key(i), (m.get(key(i)) ?? 0) + 1);
  return m;
}

/** The most jobs running at one moment, from their started_at and finished_at. */
function peakOverlap(jobs: readonly Json[]): number {
  const edges = jobs
    .flatMap((j) => [
      [Date.parse(j.started_at), 1],
      [Date.parse(j.finished_at), -1],
    ])
    // At the same instant an end comes before a start: touching jobs did not overlap.
    .sort(([a, da], [b, db]) => (a as number) - (b as number) || (da as number) - (db as number));
  let running = 0;
  let peak = 0;
  for (const [, d] of edges) {
    running += d as number;
    peak = Math.max(peak, running);
  }
  return peak;
}

describe("load", () => {
  it(
    `${sizes.loadJobs} jobs from ${sizes.loadClients} clients, provider failing 25%: all end once, nothing lost or doubled`,
    async () => {
      const api = httpClient(sandbox.url, sandbox.key);
      const jobs = sizes.loadJobs;
      const perClient = Array.from({ length: sizes.loadClients }, (_, c) =>
        Array.from({ length: jobs / sizes.loadClients }, (_, k) => c * (jobs / sizes.loadClients) + k),
      );
      const ids = new Map<number, string>();
      const clientMs: number[] = [];
      const started = Date.now();
      // Each client submits its jobs one after another and waits for each (Prefer: wait, then polling).
      await pool(perClient, sizes.loadClients, async (mine) => {
        for (const n of mine) {
          const t = performance.now();
          const res = await api.post(
            "/v1/jobs",
            {
              operation: "generate",
              input: { prompt: `load #${n}`, size: "1024x1024" },
              webhook: { url: receiver.url("/load") },
              metadata: { n: String(n) },
            },
            { prefer: "wait=20" },
          );
          expect([201, 202], res.text).toContain(res.status);
          ids.set(n, res.body.id);
          let job: Json = res.body;
          while (!["succeeded", "failed", "canceled"].includes(job.status)) {
            await new Promise((r) => setTimeout(r, 200));
            job = (await api.get(`/v1/jobs/${job.id}`)).body;
          }
          clientMs.push(performance.now() - t);
        }
      });
      const wallSeconds = (Date.now() - started) / 1000;

      // Every job, read back: terminal, succeeded, one image.
      const settled = await pool([...ids.values()], 8, async (id) => (await api.get(`/v1/jobs/${id}`)).body);
      const byStatus = countBy(settled, (j) => j.status);
      const jobMs = settled.map((j) => Date.parse(j.finished_at) - Date.parse(j.created_at));

      // Provider: calls, faults, and successful calls per job (by the prompt that names the job).
      const calls = fake.requests.filter((r) => r.path === "/v1/images/generations");
      const ok = calls.filter((r) => r.status === 200);
      const okPerJob = countBy(ok, (r) => String(r.json?.prompt));

      // S3: output objects per job.
      const objects = await outputObjects();
      const objectsPerJob = countBy(objects, (k) => k.split("/")[3] ?? "");

      // Webhooks: every job's job.started and job.succeeded, each delivered once.
      const expectedEvents = jobs * 2;
      await receiver.waitFor("/load", expectedEvents, 60_000);
      // Anything doubled would arrive within a moment of the rest.
      await new Promise((r) => setTimeout(r, 1_500));
      const deliveries = receiver.received
        .filter((r) => r.path === "/load")
        .map((r) => JSON.parse(r.body) as Json);
      const perEvent = countBy(deliveries, (d) => `${d.data.id} ${d.type}`);
      const perWebhookId = countBy(receiver.received, (r) => String(r.headers["webhook-id"]));

      printFigures("load", {
        seed,
        jobs,
        clients: sizes.loadClients,
        "worker concurrency": 16,
        "wall time": `${wallSeconds.toFixed(1)} s`,
        "jobs/s": (jobs / wallSeconds).toFixed(1),
        "job time p50 / p95 (created → finished)": `${percentile(jobMs, 50)} / ${percentile(jobMs, 95)} ms`,
        "client time p50 / p95 (submit → seen done)": `${percentile(clientMs, 50).toFixed(0)} / ${percentile(clientMs, 95).toFixed(0)} ms`,
        "terminal jobs": settled.length,
        "by status": [...byStatus.entries()].map(([s, n]) => `${s}:${n}`).join(" "),
        lost: jobs - settled.filter((j) => j.status === "succeeded").length,
        "provider calls": calls.length,
        "  answered 429": calls.filter((r) => r.status === 429).length,
        "  answered 500": calls.filter((r) => r.status === 500).length,
        "  answered with an image": ok.length,
        "retries seen (provider calls beyond one per job)": calls.length - jobs,
        "jobs needing a queue retry (attempts > 1)": settled.filter((j) => j.attempts > 1).length,
        "images stored": objects.length,
        "duplicate images": objects.length - objectsPerJob.size + (ok.length - okPerJob.size),
        "webhook deliveries": deliveries.length,
        "duplicate webhook deliveries": deliveries.length - perEvent.size,
      });

      expect(settled.length).toBe(jobs);
      expect(byStatus.get("succeeded")).toBe(jobs);
      // Faults happened, and were retried.
      expect(calls.filter((r) => r.status === 429).length).toBeGreaterThan(jobs * 0.1);
      expect(calls.filter((r) => r.status === 500).length).toBeGreaterThan(0);
      // One successful provider call, one stored image, per job.
      expect(ok.length).toBe(jobs);
      expect([...okPerJob.values()].every((n) => n === 1)).toBe(true);
      expect(objects.length).toBe(jobs);
      expect(new Set(settled.map((j) => j.id))).toEqual(new Set(objectsPerJob.keys()));
      expect([...objectsPerJob.values()].every((n) => n === 1)).toBe(true);
      for (const j of settled) expect(j.usage.images).toBe(1);
      // Each (job, event) delivered once; each delivery a distinct event.
      expect(deliveries.length).toBe(expectedEvents);
      expect(perEvent.size).toBe(expectedEvents);
      expect([...perWebhookId.values()].every((n) => n === 1)).toBe(true);
      expect(new Set(deliveries.map((d) => d.type))).toEqual(new Set(["job.started", "job.succeeded"]));
      // The clients' jobs ran side by side, not one after another (a job retried through the queue spans others'
      // runs in its wait, so only single-attempt jobs count).
      expect(peakOverlap(settled.filter((j) => j.attempts === 1))).toBeGreaterThan(1);
    },
    full ? 600_000 : 120_000,
  );
});
