import type { Principal } from "../auth/keys.ts";
import { ServiceUnavailableError } from "../errors.ts";
import type { JobLimits } from "../limits/limits.ts";
import type { Logger } from "../logging.ts";
import { type GenerateInput, isTerminal, type Job, newJobId } from "./model.ts";
import type { JobQueue } from "./queue.ts";
import { whenSettled } from "./signals.ts";
import type { JobStore } from "./store.ts";

export interface SubmitRequest {
  /** The submitting key: its tenant owns the job, its limits apply. */
  principal: Principal;
  input: GenerateInput;
  provider: string;
  metadata?: Record<string, string> | undefined;
}

/** Submitting and observing jobs: what the API needs from the job pipeline. */
export class JobService {
  readonly #store: JobStore;
  readonly #queue: JobQueue;
  readonly #logger: Logger;
  readonly #limits: JobLimits | undefined;
  readonly #now: () => number;

  constructor(
    store: JobStore,
    queue: JobQueue,
    logger: Logger,
    options: { limits?: JobLimits; now?: () => number } = {},
  ) {
    this.#store = store;
    this.#queue = queue;
    this.#logger = logger;
    this.#limits = options.limits;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Takes what the key's limits allow (429 otherwise), records the job, then enqueues it. A job that cannot
   * be enqueued is failed, never left queued forever, and what it took is given back.
   */
  async submit(req: SubmitRequest): Promise<Job> {
    const now = this.#now();
    const id = newJobId(now);
    const hold = await this.#limits?.reserveJob(req.principal, id, req.input.n, now);
    const job: Job = {
      id,
      tenant: req.principal.tenant,
      operation: "generate",
      status: "queued",
      model: req.input.model,
      provider: req.provider,
      input: req.input,
      created_at: now,
      updated_at: now,
      attempts: 0,
      ...(req.metadata !== undefined && { metadata: req.metadata }),
      ...(hold !== undefined && { hold }),
    };
    try {
      await this.#store.create(job);
    } catch (cause) {
      await this.#release({ ...job, status: "failed" });
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
      const failed = await this.#store
        .fail(
          job,
          { type: "server_error", code: "enqueue_failed", message: "The job could not be queued." },
          this.#now(),
        )
        .catch((err: unknown) => {
          this.#logger.error("Could not mark the job failed", { jobId: job.id, err });
          return false;
        });
      if (failed) await this.#release({ ...job, status: "failed" });
      throw new ServiceUnavailableError("Could not queue the job. Please retry.", { cause });
    }
    return job;
  }

  /** Gives back a job's hold; a failure here only costs the key some allowance, so it is logged, not thrown. */
  async #release(job: Job): Promise<void> {
    await this.#limits?.releaseJob(job, true).catch((err: unknown) => {
      this.#logger.error("Could not release the job's limits", { jobId: job.id, err });
    });
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
    for (let round = 0; ; round++) {
      const job = await this.#store.get(tenant, id, true);
      if (!job || isTerminal(job.status)) return job;
      const left = deadline - this.#now();
      if (left <= 0) return job;
      await whenSettled(id, Math.min(left, round < 40 ? 50 : 250));
    }
  }
}
