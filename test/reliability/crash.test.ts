import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resourceNames } from "../../infra/resources.ts";
import { connectEmulators, type Emulators } from "../../infra/sandbox/emulators.ts";
import { listKeys } from "../support/emulators.ts";
import { type FakeOpenAI, type RecordedRequest, startFakeOpenAI } from "../support/fake-openai.ts";
import { httpClient, type Json } from "../support/http.ts";
import {
  type SandboxProcess,
  startSandboxProcess,
  startWorkerProcess,
  type WorkerProcess,
} from "../support/sandbox-process.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.ts";
import { full, printFigures, sizes } from "./figures.ts";

// Crash: the job worker runs as OS processes of their own (npm run sandbox:worker) against `npm start`
// (RUN_WORKER=false). While the fake provider holds a request, the worker process is SIGKILLed, at least three
// times in a run, and a fresh one started. Each job still ends exactly once: one set of images, one
// job.succeeded webhook, and the provider called again only for the attempts the kills cut short.
// Redelivery waits for the message's visibility timeout (the worker timeout + 30 s), so this runs ~1 minute:
// `npm run test:reliability` only.

const workerTimeoutMs = 15_000;
const jobsPerRound = 8;

let sandbox: SandboxProcess;
let fake: FakeOpenAI;
let receiver: WebhookReceiver;
let emulators: Emulators;
const workers: WorkerProcess[] = [];
const heldPrompts = new Set<string>();
let onHeld: ((r: RecordedRequest) => void) | undefined;

const workerEnv = () => ({
  OPENAI_API_KEY: "sk-fake-provider-key-for-crashes",
  OPENAI_BASE_URL: fake.baseURL,
  PLACEHOLDER_FALLBACK: "false",
  ALLOW_PRIVATE_URLS: "true",
  WORKER_TIMEOUT_MS: String(workerTimeoutMs),
  WORKER_CONCURRENCY: "4",
  LOG_LEVEL: "error",
});

beforeAll(async () => {
  fake = await startFakeOpenAI({
    // Slow enough that other jobs are mid-call too when a worker dies.
    latencyMs: 400,
    // The first request of each "crash" job is held: the worker calling it is killed while it waits.
    hold: (r) => {
      const prompt = String(r.json?.prompt ?? "");
      if (!prompt.startsWith("crash") || heldPrompts.has(prompt)) return false;
      heldPrompts.add(prompt);
      return true;
    },
    onHold: (r) => onHeld?.(r),
  });
  receiver = await startWebhookReceiver();
  sandbox = await startSandboxProcess({ ...workerEnv(), RUN_WORKER: "false" });
  emulators = connectEmulators(sandbox);
});

afterAll(async () => {
  for (const w of workers) await w.kill("SIGKILL");
  await sandbox?.stop("SIGTERM");
  await Promise.all([fake?.close(), receiver?.close(), emulators?.stop()]);
});

describe.skipIf(!full)("crash: SIGKILL of the worker process mid-job", () => {
  it(`${sizes.crashKills} kills while the provider holds a request: every job completes exactly once`, async () => {
    const api = httpClient(sandbox.url, sandbox.key);
    const submit = async (prompt: string) => {
      const res = await api.post("/v1/jobs", {
        operation: "generate",
        input: { prompt, size: "1024x1024" },
        webhook: { url: receiver.url("/crash") },
      });
      expect(res.status, res.text).toBe(202);
      return res.body.id as string;
    };
    const ids: string[] = [];
    const kills: { pid: number; signal: string | null; running: string[]; held: string }[] = [];
    const started = Date.now();

    for (let round = 1; round <= sizes.crashKills; round++) {
      const worker = await startWorkerProcess(sandbox, workerEnv());
      workers.push(worker);
      const held = new Promise<RecordedRequest>((resolve) => {
        onHeld = resolve;
      });
      for (let i = 0; i < jobsPerRound; i++) ids.push(await submit(`round ${round} job ${i}`));
      ids.push(await submit(`crash ${round}`));
      const request = await held;
      // Every job running now is running in this worker, the only one alive: the kill cuts each short.
      // (A job cut short by an earlier kill stays "running" until its message returns: same attempt number.)
      const running = (await api.get("/v1/jobs?status=running&limit=100")).body.data.map(
        (j: Json) => `${j.id}#${j.attempts}`,
      );
      const ended = await worker.kill("SIGKILL");
      kills.push({ pid: worker.pid, signal: ended.signal, running, held: String(request.json?.prompt) });
    }
    // A last worker finishes everything, the killed jobs once their messages come back.
    workers.push(await startWorkerProcess(sandbox, workerEnv()));
    const deadline = Date.now() + 4 * (workerTimeoutMs + 30_000);
    const jobs = new Map<string, Json>();
    while (jobs.size < ids.length) {
      for (const id of ids) {
        if (jobs.has(id)) continue;
        const job = (
          await api.get(`/v1/jobs/${id}`).catch((err: unknown) => {
            // The sandbox must outlive every worker it served: say why it did not.
            throw new Error(
              `The sandbox stopped answering (${String(err)}). Its output:\n${sandbox.output().slice(-4_000)}`,
            );
          })
        ).body;
        if (["succeeded", "failed", "canceled"].includes(job.status)) jobs.set(id, job);
      }
      if (Date.now() > deadline) throw new Error(`${ids.length - jobs.size} jobs never finished`);
      if (jobs.size < ids.length) await new Promise((r) => setTimeout(r, 500));
    }
    const wallSeconds = (Date.now() - started) / 1000;
    await receiver.waitFor("/crash", ids.length * 2, 60_000);
    await new Promise((r) => setTimeout(r, 1_500));

    const objects = await listKeys(emulators.clients.s3, resourceNames.bucket, "tenants/local/jobs/");

    const byJob = [...jobs.values()];
    const promptOf = new Map(byJob.map((j) => [j.id as string, j.input.prompt as string]));
    const calls = fake.requests.filter((r) => r.path === "/v1/images/generations");
    const callsOf = (id: string) => calls.filter((r) => r.json?.prompt === promptOf.get(id)).length;
    const killedAttempts = new Map<string, number>();
    for (const attempt of new Set(kills.flatMap((k) => k.running))) {
      const id = attempt.split("#")[0] as string;
      killedAttempts.set(id, (killedAttempts.get(id) ?? 0) + 1);
    }
    const deliveries = receiver.received
      .filter((r) => r.path === "/crash")
      .map((r) => JSON.parse(r.body) as Json);
    const perEvent = new Map<string, number>();
    for (const d of deliveries)
      perEvent.set(`${d.data.id} ${d.type}`, (perEvent.get(`${d.data.id} ${d.type}`) ?? 0) + 1);

    printFigures("crash", {
      "worker processes": workers.length,
      "SIGKILLs while the provider held a request": kills.filter((k) => k.signal === "SIGKILL").length,
      "jobs running at each kill (earlier cut ones included)": kills.map((k) => k.running.length).join(", "),
      jobs: ids.length,
      "wall time": `${wallSeconds.toFixed(1)} s`,
      "by status": [...new Set(byJob.map((j) => j.status))]
        .map((s) => `${s}:${byJob.filter((j) => j.status === s).length}`)
        .join(" "),
      "provider calls": calls.length,
      "provider calls beyond one per job": calls.length - ids.length,
      "attempts cut short by the kills": [...killedAttempts.values()].reduce((a, b) => a + b, 0),
      "images stored": objects.length,
      "job.succeeded deliveries": deliveries.filter((d) => d.type === "job.succeeded").length,
      "duplicate webhook deliveries": deliveries.length - perEvent.size,
    });

    expect(kills.length).toBeGreaterThanOrEqual(3);
    for (const k of kills) {
      expect(k.signal).toBe("SIGKILL");
      expect(k.running.length).toBeGreaterThan(0);
      expect(k.held).toMatch(/^crash /);
    }
    // Every job succeeded, exactly once.
    expect(byJob.map((j) => j.status)).toEqual(ids.map(() => "succeeded"));
    expect(objects.length).toBe(ids.length);
    expect(new Set(objects.map((k) => k.split("/")[3]))).toEqual(new Set(ids));
    // The provider was called again only for attempts a kill cut short.
    for (const id of ids) {
      expect(callsOf(id), `${promptOf.get(id)}`).toBeGreaterThanOrEqual(1);
      expect(callsOf(id) - 1, `${promptOf.get(id)}`).toBeLessThanOrEqual(killedAttempts.get(id) ?? 0);
    }
    // Each held job was called twice: the cut attempt and the one that finished.
    for (let round = 1; round <= sizes.crashKills; round++) {
      expect(calls.filter((r) => r.json?.prompt === `crash ${round}`).length).toBe(2);
    }
    // One job.succeeded per job, no event delivered twice.
    expect(deliveries.filter((d) => d.type === "job.succeeded").length).toBe(ids.length);
    expect(deliveries.length).toBe(perEvent.size);
  }, 300_000);
});
