import { ServiceUnavailableError } from "../errors.ts";
import type { Logger } from "../logging.ts";
import { type Metrics, noMetrics } from "../metrics.ts";
import type { JobWork } from "./inputs.ts";
import { isTerminal, type Job, newJobId } from "./model.ts";
import type { JobQueue } from "./queue.ts";
import { watchSettled } from "./signals.ts";
import type { JobStore } from "./store.ts";

export interface SubmitRequest {
  tenant: string;
  /** The operation and its prepared input. */
  work: JobWork;
  provider: string;
  /** Given when the job's inputs were stored under its id before it was recorded. */
  id?: string | undefined;
  metadata?: Record<string, string> | undefined;
}

/** Submitting and observing jobs: what the API needs from the job pipeline. */
export class JobService {
  readonly #store: JobStore;
  readonly #queue: JobQueue;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #metrics: Metrics;

  constructor(
    store: JobStore,
    queue: JobQueue,
    logger: Logger,
    now: () => number = Date.now,
    metrics: Metrics = noMetrics,
  ) {
    this.#store = store;
    this.#queue = queue;
    this.#logger = logger;
    this.#now = now;
    this.#metrics = metrics;
  }

  /** Records the job, then enqueues it. A job that cannot be enqueued is failed, never left queued forever. */
  async submit(req: SubmitRequest): Promise<Job> {
    const now = this.#now();
    const job: Job = {
      id: req.id ?? newJobId(now),
      tenant: req.tenant,
      ...req.work,
      status: "queued",
      model: req.work.input.model,
      provider: req.provider,
      created_at: now,
      updated_at: now,
      attempts: 0,
      ...(req.metadata !== undefined && { metadata: req.metadata }),
    };
    try {
      await this.#store.create(job);
    } catch (cause) {
      throw new ServiceUnavailableError("Could not record the job. Please retry.", { cause });
    }
    try {
      await this.#queue.send({ v: 1, tenant: job.tenant, job_id: job.id });
    } catch (cause) {
      this.#logger.error("Enqueue failed; failing the job", {
        jobId: job.id,
        tenant: job.tenant,
        err: cause,
      });
      await this.#store
        .fail(
          job,
          { type: "server_error", code: "enqueue_failed", message: "The job could not be queued." },
          this.#now(),
        )
        .catch((err: unknown) => this.#logger.error("Could not mark the job failed", { jobId: job.id, err }));
      throw new ServiceUnavailableError("Could not queue the job. Please retry.", { cause });
    }
    this.#metrics.record("JobsCreated", 1);
    return job;
  }

  get(tenant: string, id: string): Promise<Job | undefined> {
    return this.#store.get(tenant, id, true);
  }

  /**
   * Waits for a terminal status, up to `timeoutMs`. In one process the worker's signal wakes it at once;
   * across processes it polls DynamoDB with strongly consistent reads, 50 ms apart at first.
   */
  async waitForTerminal(tenant: string, id: string, timeoutMs: number): Promise<Job | undefined> {
    const deadline = this.#now() + timeoutMs;
    const settled = watchSettled(id);
    try {
      for (let round = 0; ; round++) {
        const job = await this.#store.get(tenant, id, true);
        if (!job || isTerminal(job.status)) return job;
        const left = deadline - this.#now();
        if (left <= 0) return job;
        await settled.wait(Math.min(left, round < 40 ? 50 : 250));
      }
    } finally {
      settled.close();
    }
  }
}
