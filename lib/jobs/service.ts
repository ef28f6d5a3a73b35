import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import type { Principal } from "../auth/keys.ts";
import type { Logger } from "../logging.ts";
import { type Metrics, noMetrics } from "../metrics.ts";
import type { JobPriority } from "./batch.ts";
import { Conflict, Unavailable } from "./errors.ts";
import type { JobWork } from "./inputs.ts";
import { cancelReasons, isTerminal, type Job, jobIdInstant, newJobId, type WebhookConfig } from "./model.ts";
import type { EventPublisher } from "./ports/events.ts";
import type { JobLimits } from "./ports/limits.ts";
import type { BudgetGuard } from "./ports/usage.ts";
import type { JobQueue } from "./queue.ts";
import { announceSettled, watchSettled } from "./signals.ts";
import type { JobStore, ListPage, ListQuery } from "./store.ts";

/** A job with the caller's chosen id is already recorded (the same upload, notified twice). */
export class JobExistsError extends Conflict {
  override name = "JobExistsError";
  readonly jobId: string;
  constructor(jobId: string, options: { cause?: unknown } = {}) {
    super(`Job ${jobId} already exists.`, { code: "job_exists", ...options });
    this.jobId = jobId;
  }
}

export interface SubmitRequest {
  /** The submitting key: its tenant owns the job, its limits apply. */
  principal: Principal;
  /** The operation and its prepared input. */
  work: JobWork;
  provider: string;
  /** Given when the job's inputs were stored under its id before it was recorded. */
  id?: string | undefined;
  metadata?: Record<string, string> | undefined;
  webhook?: WebhookConfig | undefined;
  /** Epoch ms; the job is canceled if it has not finished by then. */
  deadline?: number | undefined;
  /** The lane it queues in; interactive when not given. */
  priority?: JobPriority | undefined;
}

/** Submitting, observing and canceling jobs: what the API needs from the job pipeline. */
export class JobService {
  readonly #store: JobStore;
  readonly #queue: JobQueue;
  readonly #webhooks: EventPublisher;
  readonly #logger: Logger;
  readonly #limits: JobLimits | undefined;
  readonly #budget: BudgetGuard | undefined;
  readonly #now: () => number;
  readonly #metrics: Metrics;

  constructor(
    store: JobStore,
    queue: JobQueue,
    logger: Logger,
    webhooks: EventPublisher,
    options: { limits?: JobLimits; budget?: BudgetGuard; now?: () => number; metrics?: Metrics } = {},
  ) {
    this.#store = store;
    this.#queue = queue;
    this.#webhooks = webhooks;
    this.#logger = logger;
    this.#limits = options.limits;
    this.#budget = options.budget;
    this.#now = options.now ?? Date.now;
    this.#metrics = options.metrics ?? noMetrics;
  }

  /**
   * Takes what the key's limits allow (429 otherwise), records the job, then enqueues it. A job that cannot
   * be enqueued is failed, never left queued forever, and what it took is given back.
   */
  async submit(req: SubmitRequest): Promise<Job> {
    const now = this.#now();
    const id = req.id ?? newJobId(now);
    // The listing index orders and filters by the ID's time, so created_at is that time, not when it was written
    // (staging input images between the two can take seconds).
    const createdAt = req.id === undefined ? now : jobIdInstant(req.id);
    await this.#budget?.admit(req.principal.tenant, now);
    const hold = await this.#limits?.reserveJob(req.principal, id, req.work.input.n, now);
    const job: Job = {
      id,
      tenant: req.principal.tenant,
      ...req.work,
      status: "queued",
      model: req.work.input.model,
      provider: req.provider,
      created_at: createdAt,
      updated_at: now,
      attempts: 0,
      ...(req.metadata !== undefined && { metadata: req.metadata }),
      ...(req.webhook !== undefined && { webhook: req.webhook, webhook_events: {} }),
      ...(req.deadline !== undefined && { deadline: req.deadline }),
      ...(hold !== undefined && { hold }),
      priority: req.priority ?? "interactive",
    };
    try {
      await this.#store.create(job);
    } catch (cause) {
      if (req.id !== undefined && cause instanceof ConditionalCheckFailedException) {
        await this.#releaseDuplicate(job);
        throw new JobExistsError(id, { cause });
      }
      await this.#release({ ...job, status: "failed" });
      throw new Unavailable("Could not record the job. Please retry.", { cause });
    }
    try {
      await this.#queue.send({
        v: 1,
        tenant: job.tenant,
        job_id: job.id,
        ...(job.priority === "batch" && { priority: job.priority }),
      });
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
          return undefined;
        });
      if (failed) {
        await this.#release(failed);
        await this.#dispatch(failed);
      }
      throw new Unavailable("Could not queue the job. Please retry.", { cause });
    }
    this.#metrics.record("JobsCreated", 1);
    return job;
  }

  /** The job as it is now; one past its deadline is settled (canceled) on the way. */
  async get(tenant: string, id: string): Promise<Job | undefined> {
    const job = await this.#store.get(tenant, id, true);
    return job && this.#settleDeadline(job);
  }

  /** A page of the tenant's jobs, newest first, each past-deadline job settled as `get` does. */
  async list(query: ListQuery): Promise<ListPage> {
    const page = await this.#store.list(query);
    return { ...page, jobs: await Promise.all(page.jobs.map((j) => this.#settleDeadline(j))) };
  }

  /**
   * Cancels a queued or running job; a queued one never runs, a running one is stopped as soon as its worker
   * notices and its late result is discarded. Canceling a canceled job answers it again (a safe retry);
   * a job that already succeeded or failed is a 409.
   */
  async cancel(tenant: string, id: string): Promise<Job | undefined> {
    for (let round = 0; round < 3; round++) {
      const job = await this.#store.get(tenant, id, true);
      if (!job) return undefined;
      if (job.status === "canceled") {
        await this.#dispatch(job);
        return job;
      }
      if (isTerminal(job.status)) {
        throw new Conflict(`Job ${id} has already ${job.status}; there is nothing to cancel.`, {
          code: "job_already_finished",
        });
      }
      const canceled = await this.#store.cancel(job, cancelReasons.requested(), this.#now());
      if (canceled) {
        announceSettled(id, canceled);
        // This write ended it: its slot and unused images go back now (a running worker's later release is a no-op).
        await this.#release(canceled);
        await this.#dispatch(canceled);
        return canceled;
      }
      // It moved on between the read and the write (claimed, requeued or finished): look again.
    }
    throw new Unavailable("The job kept changing while being canceled. Please retry.");
  }

  /**
   * Gives back what a losing duplicate took. Its slot is keyed by the job id, so while the recorded job is
   * unfinished the slot is that job's and stays; the images this call reserved always go back.
   */
  async #releaseDuplicate(job: Job): Promise<void> {
    if (!job.hold) return;
    const recorded = await this.#store.get(job.tenant, job.id, true).catch(() => undefined);
    const hold = recorded && !isTerminal(recorded.status) ? { ...job.hold, slot: false } : job.hold;
    await this.#release({ ...job, status: "failed", hold });
  }

  /** Gives back a job's hold; a failure here only costs the key some allowance, so it is logged, not thrown. */
  async #release(job: Job): Promise<void> {
    await this.#limits?.releaseJob(job, true).catch((err: unknown) => {
      this.#logger.error("Could not release the job's limits", { jobId: job.id, err });
    });
  }

  /** Frees an ended job's slot alone: its images are settled by whoever ended it. Logged, not thrown, as `#release`. */
  async #freeSlot(job: Job): Promise<void> {
    await this.#limits?.releaseJob(job, false).catch((err: unknown) => {
      this.#logger.error("Could not free the job's concurrency slot", { jobId: job.id, err });
    });
  }

  /**
   * Waits for a terminal status, up to `timeoutMs`. In one process the worker's signal wakes it at once;
   * across processes it polls DynamoDB with strongly consistent reads, 50 ms apart at first.
   * A worker in this process hands over the record its settling write returned, which is answered without
   * reading it back.
   * An ended job's concurrency slot is freed before it is returned: its worker frees it too, but possibly
   * later (in another process, or after recording usage), and a caller answered now may submit its next job now.
   */
  async waitForTerminal(tenant: string, id: string, timeoutMs: number): Promise<Job | undefined> {
    let last: Job | undefined;
    for await (const job of this.watch(tenant, id, timeoutMs)) last = job;
    return last;
  }

  /**
   * The job as it changes, up to `timeoutMs`: its record now, then again each time it moves on (status, a
   * partial image recorded), ending with its terminal record or at the timeout; nothing when it does not exist.
   * The same wait as `waitForTerminal`, which is this watch's last record. With `progress`, a worker in this
   * process hands over each partial image's record the moment it is written; `pollMs` is the interval after the
   * first 2 s of polling (250 ms; a stream relaying previews polls faster).
   */
  async *watch(
    tenant: string,
    id: string,
    timeoutMs: number,
    options: { progress?: boolean; pollMs?: number } = {},
  ): AsyncGenerator<Job> {
    const deadline = this.#now() + timeoutMs;
    const settled = watchSettled(id, { progress: options.progress ?? false });
    let last: Job | undefined;
    try {
      for (let round = 0; ; round++) {
        const announced = settled.settled ?? settled.takeProgress();
        const found = announced ?? (await this.#store.get(tenant, id, true));
        const job = found && (await this.#settleDeadline(found));
        if (job && isTerminal(job.status) && job.hold?.slot) await this.#freeSlot(job);
        if (!job) return;
        if (!last || movedOn(last, job)) {
          last = job;
          yield job;
        }
        if (isTerminal(job.status)) return;
        const left = deadline - this.#now();
        if (left <= 0) return;
        await settled.wait(Math.min(left, round < 40 ? 50 : (options.pollMs ?? 250)));
      }
    } finally {
      settled.close();
    }
  }

  /**
   * A job past its deadline is canceled by whoever sees it first: the worker that claims it, or any read here.
   * So its status is right the moment anyone looks, even while no worker has reached its message; and the
   * message itself stays in the queue until a worker takes it, so nothing waits forever.
   */
  async #settleDeadline(job: Job): Promise<Job> {
    if (isTerminal(job.status) || job.deadline === undefined || job.deadline > this.#now()) return job;
    const canceled = await this.#store.cancel(job, cancelReasons.deadline(job.deadline), this.#now());
    if (!canceled) return (await this.#store.get(job.tenant, job.id, true)) ?? job;
    announceSettled(job.id, canceled);
    await this.#release(canceled);
    await this.#dispatch(canceled);
    return canceled;
  }

  /**
   * Best effort: a recorded event whose dispatch fails here is dispatched again by the worker when the job's
   * message reaches it (a settled job's message is still in the queue, or comes back) — never lost.
   */
  async #dispatch(job: Job): Promise<void> {
    await this.#webhooks
      .dispatch(job)
      .catch((err: unknown) =>
        this.#logger.warn("Could not dispatch webhook events; the worker will", { jobId: job.id, err }),
      );
  }
}

/**
 * Whether `next` shows more than `last`: another status, or more partial images. A record announced late (an
 * earlier write's, or one read before the write it lacks) never takes a watcher backwards.
 */
function movedOn(last: Job, next: Job): boolean {
  if (next.status !== last.status) return !isTerminal(last.status);
  return (next.partials?.length ?? 0) > (last.partials?.length ?? 0) || next.attempts > last.attempts;
}
