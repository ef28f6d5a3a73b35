import type { SQSRecord } from "aws-lambda";
import { parseSize } from "../catalog/catalog.ts";
import {
  estimateCostMicroUsd,
  fromMicroUsd,
  type PriceTier,
  priceFor,
  type TokenBreakdown,
  type TokenUsage,
} from "../catalog/prices.ts";
import { conform, describeImage, hasTransparency } from "../images/formats.ts";
import { deliverAt } from "../images/resize.ts";
import { outputKey } from "../layout/keys.ts";
import type { Logger } from "../logging.ts";
import { type Metrics, noMetrics } from "../metrics.ts";
import { receiveCount, type SqsConsumer } from "../queue/messages.ts";
import { DomainError, jobErrorOf, Unavailable } from "./errors.ts";
import {
  cancelReasons,
  isTerminal,
  type Job,
  type JobError,
  type JobMessage,
  type JobUsage,
  jobMessage,
  type StoredImage,
} from "./model.ts";
import { executors } from "./operations/index.ts";
import type { Execution } from "./operations/types.ts";
import { PartialImageSink } from "./partials.ts";
import type { EventPublisher } from "./ports/events.ts";
import type { Admission, JobLimits, ProviderAdmission } from "./ports/limits.ts";
import { ProviderError, type ProviderFailure, type ProviderImage } from "./ports/provider.ts";
import { type ImageStorage, StorageError, type StorageFailure } from "./ports/storage.ts";
import type { UsageRecorder } from "./ports/usage.ts";
import type { JobQueue } from "./queue.ts";
import type { ProviderRegistry } from "./registry.ts";
import { backoffSeconds, RetryLaterError } from "./retry.ts";
import { announceSettled, whenSettled } from "./signals.ts";
import type { JobStore } from "./store.ts";

export interface RunnerOptions {
  maxAttempts: number;
  providerTimeoutMs: number;
  /** How long a claim protects a running job from a second worker; the worker's own timeout. */
  leaseMs: number;
  /** How often a running job looks for a cancel made in another process. */
  cancelCheckMs: number;
  /** Per tenant ("*" for any other), the folder under tenants/{tenant}/ where kept input images go. */
  sourceFolders?: Readonly<Record<string, string>> | undefined;
}

export interface RunnerDeps {
  store: JobStore;
  queue: JobQueue;
  webhooks: EventPublisher;
  images: ImageStorage;
  registry: ProviderRegistry;
  logger: Logger;
  options: RunnerOptions;
  metrics?: Metrics;
  /** Given back what a job held when it ends. */
  limits?: JobLimits;
  /** Told of each success once, by the worker whose write made it so. */
  usage?: UsageRecorder;
  /** Provider keys' shared rate limits: asked before the provider is called, told of 429s. */
  providerLimits?: ProviderAdmission;
  /** The registry to call a provider with each pooled key's value, by key name (the default registry otherwise). */
  keyRegistries?: Readonly<Record<string, ProviderRegistry>>;
  /** OpenAI's Batch API for batch-priority generations (lib/jobs/batch-lane.ts), when the deployment enables it. */
  batchLane?: BatchSubmitter;
  now?: () => number;
}

export { backoffSeconds, RetryLaterError } from "./retry.ts";

/** A message that can never succeed. Reported as failed and never delayed, it reaches the DLQ. */
export class PoisonMessageError extends Error {
  override name = "PoisonMessageError";
}

export type RunOutcome = "succeeded" | "failed" | "canceled" | "skipped" | "discarded" | "submitted";

/** Sends a job's requests through a provider's Batch API; the batch poller settles the job later. */
export interface BatchSubmitter {
  accepts(job: Job): boolean;
  /** The job with its batch recorded; undefined when it left `running` meanwhile (canceled). */
  submit(job: Job): Promise<Job | undefined>;
}

/** No provider key has room for the job now: its message comes back after `delaySeconds`, not counted as an attempt. */
export class CapacityWaitError extends Error {
  override name = "CapacityWaitError";
  readonly delaySeconds: number;
  constructor(delaySeconds: number) {
    super(`No provider capacity; the job waits ${delaySeconds} s in the queue`);
    this.delaySeconds = delaySeconds;
  }
}

/** Why a running job was stopped: canceled elsewhere, or its own deadline passed. */
type StopReason = "canceled" | "deadline";

/** How an attempt ended. `won`: this worker's write ended the job, so it alone gives back the day's unused images and
 * counts usage. */
interface AttemptEnd {
  outcome: RunOutcome;
  settled: Job | undefined;
  won: boolean;
}

/** What an execution made, as the store records a success. */
type ExecutionResult = Parameters<JobStore["succeed"]>[1];

/** Jobs are recorded before their message is sent: nothing will ever make one that is missing exist. */
const missingJob = () => new PoisonMessageError("The message names a job that does not exist.");

const failureToJobError: Record<ProviderFailure, { type: string; code: string }> = {
  content_policy_violation: { type: "invalid_request_error", code: "content_policy_violation" },
  invalid_request: { type: "invalid_request_error", code: "invalid_request_error" },
  authentication: { type: "server_error", code: "provider_authentication_failed" },
  insufficient_quota: { type: "server_error", code: "insufficient_quota" },
  rate_limited: { type: "rate_limit_error", code: "provider_rate_limited" },
  unavailable: { type: "server_error", code: "provider_unavailable" },
  timeout: { type: "server_error", code: "provider_timeout" },
  bad_response: { type: "server_error", code: "provider_bad_response" },
};

/** Storage faults no retry fixes end the job at once, each with its own code; `unavailable` is retried. */
const storageToJobError: Record<Exclude<StorageFailure, "unavailable">, JobError> = {
  not_found: {
    type: "invalid_request_error",
    code: "input_image_missing",
    message:
      "An input image of this job is no longer stored (inputs expire under the deployment's retention); submit the job again.",
  },
  too_large: {
    type: "server_error",
    code: "output_too_large",
    message: "An image the provider made is larger than the image store accepts.",
  },
  rejected: {
    type: "server_error",
    code: "storage_refused",
    message: "The image store refused the request, which retrying cannot fix; the operator has the details.",
  },
};

/** The one mapping from what stopped a job to the error it records. */
export function toJobError(err: unknown): JobError {
  if (err instanceof ProviderError) return { ...failureToJobError[err.failure], message: err.message };
  if (err instanceof StorageError && err.failure !== "unavailable") return storageToJobError[err.failure];
  const invalid = err instanceof DomainError ? jobErrorOf(err, "invalid_request_error") : undefined;
  if (invalid) return invalid;
  return {
    type: "server_error",
    code: "internal_error",
    message: "The job failed because of an internal error.",
  };
}

/** A domain error that is not Unavailable (an input the job cannot use) gives the same answer on every attempt. */
const isRetryable = (err: unknown) =>
  err instanceof ProviderError || err instanceof StorageError
    ? err.retryable
    : !(err instanceof DomainError) || err instanceof Unavailable;

export class JobRunner implements SqsConsumer<JobMessage> {
  readonly schema = jobMessage;
  // Never swallowed: reported as failed, it reaches the DLQ after maxReceiveCount and raises an alarm there.
  readonly malformedMessage = "Malformed job message";

  readonly #deps: RunnerDeps;
  readonly #now: () => number;
  readonly #metrics: Metrics;

  constructor(deps: RunnerDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#metrics = deps.metrics ?? noMetrics;
  }

  /** One job message: false has it received again (after a delay), or, for a poison message, sent to the DLQ. */
  async consume(message: JobMessage, record: SQSRecord, remainingMs: () => number): Promise<boolean> {
    const log = this.#deps.logger.child({ messageId: record.messageId });
    const receives = receiveCount(record);
    try {
      const outcome = await this.run(message.tenant, message.job_id, receives, remainingMs);
      log.info("Job message processed", { jobId: message.job_id, tenant: message.tenant, outcome });
      return true;
    } catch (err) {
      if (err instanceof CapacityWaitError) {
        // A new, delayed message rather than a longer visibility timeout: this receive must not count towards the
        // job's attempts or the queue's maxReceiveCount. Should the send fail, the original comes back instead.
        await this.#deps.queue.send(message, err.delaySeconds);
        log.info("Job waits for provider capacity", {
          jobId: message.job_id,
          delaySeconds: err.delaySeconds,
        });
        return true;
      }
      if (err instanceof PoisonMessageError) {
        log.error("Job message can never succeed; it goes to the DLQ", { jobId: message.job_id, err });
        return false;
      }
      const delay = err instanceof RetryLaterError ? err.delaySeconds : backoffSeconds(receives, undefined);
      log.warn("Job will be retried", { jobId: message.job_id, delaySeconds: delay, err });
      await this.#deps.queue.delay(record.receiptHandle, delay, message.priority).catch((e: unknown) => {
        log.warn("Could not set the retry delay; the queue's visibility timeout applies", { err: e });
      });
      return false;
    }
  }

  /**
   * Runs one job at most once to success. Throws to have the message redelivered. Every path that finds the
   * job settled hands on its webhook events again, so a crash between a transition and its dispatch loses none.
   */
  async run(
    tenant: string,
    jobId: string,
    receiveCount: number,
    remainingMs: () => number,
  ): Promise<RunOutcome> {
    const log = this.#deps.logger.child({ jobId, tenant });
    const current = await this.#deps.store.get(tenant, jobId, true);
    if (!current) throw missingJob();
    if (isTerminal(current.status)) return this.#alreadySettled(current, log);
    if (current.deadline !== undefined && current.deadline <= this.#now()) {
      return this.#cancelBeforeStart(current, current.deadline, log);
    }
    // A batch-lane job is sent to the provider's Batch API, whose own queue and limits apply, not the limiter's.
    const batched = this.#deps.batchLane?.accepts(current) ?? false;
    // Before the claim, so that a job with no provider capacity stays queued and its message simply waits.
    const admission = batched
      ? undefined
      : await this.#deps.providerLimits?.acquire(current.provider, current.input.n, this.#now());
    if (admission && !admission.admitted) throw new CapacityWaitError(admission.retryAfterSeconds);
    const claim = await this.#deps.store.claim(current, this.#now(), this.#deps.options.leaseMs);
    if (!claim.claimed) return this.#notClaimed(claim.job, log);
    const job = claim.job;
    if (receiveCount > this.#deps.options.maxAttempts) return this.#failExhausted(job, receiveCount, log);
    // job.started. Should this fail, the dispatch after the job settles hands it on.
    await this.#deps.webhooks
      .dispatch(job)
      .catch((err: unknown) => log.warn("Could not dispatch job.started", { err }));
    if (batched) return this.#submitBatch(job, receiveCount, log);
    return this.#attempt(job, receiveCount, remainingMs, admission, log);
  }

  /** A job already settled: a worker that died after settling may not have released the slot (idempotent). */
  async #alreadySettled(job: Job, log: Logger): Promise<RunOutcome> {
    await this.#ended(job, false, log);
    await this.#deps.webhooks.dispatch(job);
    log.info("Job already settled; nothing to do", { status: job.status });
    return "skipped";
  }

  /** Past its deadline before it started: canceled, never run. */
  async #cancelBeforeStart(job: Job, deadline: number, log: Logger): Promise<RunOutcome> {
    const canceled = await this.#deps.store.cancel(job, cancelReasons.deadline(deadline), this.#now());
    const latest = canceled ?? (await this.#deps.store.get(job.tenant, job.id, true));
    if (latest) await this.#ended(latest, canceled !== undefined, log);
    await this.#settled(latest);
    return "canceled";
  }

  /** The claim lost: the job is gone, running elsewhere, changed, or settled meanwhile. */
  async #notClaimed(job: Job | undefined, log: Logger): Promise<RunOutcome> {
    if (!job) throw missingJob();
    if (job.status === "running") {
      // Another worker holds a live lease (duplicate delivery). Check back after it should be done.
      throw new RetryLaterError(
        "Job is running elsewhere",
        Math.ceil(((job.lease_until ?? 0) - this.#now()) / 1000) + 1,
      );
    }
    if (job.status === "queued") throw new RetryLaterError("Job changed while being claimed", 1);
    return this.#alreadySettled(job, log);
  }

  /** Every attempt ended without an outcome (the worker timed out or died): fail it rather than try again. */
  async #failExhausted(job: Job, receiveCount: number, log: Logger): Promise<RunOutcome> {
    const { store, options } = this.#deps;
    const last = job.last_error;
    const error: JobError = {
      type: "server_error",
      code: "attempts_exhausted",
      message: `The job did not finish in ${options.maxAttempts} attempts.${last ? ` The last error: ${last.message}` : ""}`,
    };
    log.warn("Job failed", { code: error.code, attempts: receiveCount });
    const failed = await store.fail(job, error, this.#now());
    if (failed) this.#metrics.record("JobsFailed", 1);
    await this.#ended(failed ?? job, failed !== undefined, log);
    await this.#settled(failed ?? (await store.get(job.tenant, job.id, true)));
    return "failed";
  }

  /** One attempt at a claimed job: execute it, record what came of it, then settle limits, usage and webhooks. */
  async #attempt(
    job: Job,
    receiveCount: number,
    remainingMs: () => number,
    admission: Admission | undefined,
    log: Logger,
  ): Promise<RunOutcome> {
    const stop = this.#watchForStop(job);
    // The stored images' bytes, handed to a stream relaying them in this process (lib/jobs/signals.ts).
    const handover = new Map<string, Buffer>();
    let end: AttemptEnd;
    try {
      const result = await this.#execute(job, remainingMs, stop.signal, handover, admission);
      end = await this.#recordSuccess(job, result, log);
    } catch (err) {
      end = stop.signal.aborted
        ? await this.#recordStop(job, stop.signal.reason as StopReason, log)
        : await this.#recordFailure(job, err, receiveCount, admission, log);
    } finally {
      stop.end();
    }
    const { settled, won, outcome } = end;
    // Waiters in this process wake as soon as the outcome is durable, not after the limits and usage writes:
    // a waiter frees the slot itself before answering (JobService.waitForTerminal), so the limit stays right.
    if (settled && isTerminal(settled.status)) announceSettled(settled.id, settled, handover);
    await this.#ended(settled ?? job, won, log);
    // Outside the try: a failed dispatch is not a failed job; it throws, and the message comes back for it.
    await this.#settled(settled);
    return outcome;
  }

  async #recordSuccess(job: Job, result: ExecutionResult, log: Logger): Promise<AttemptEnd> {
    const { store } = this.#deps;
    const succeeded = await store.succeed(job, result, this.#now());
    if (!succeeded) {
      log.info("Job left 'running' while it ran (canceled); its result is discarded");
      await this.#discard(
        result.images.map((i) => i.key),
        log,
      );
      return { settled: await store.get(job.tenant, job.id, true), won: false, outcome: "discarded" };
    }
    this.#metrics.record("JobsSucceeded", 1);
    this.#metrics.record("ImagesProduced", result.images.length);
    this.#metrics.record("ProviderLatency", result.usage.provider_ms);
    this.#metrics.record("EndToEndLatency", this.#now() - job.created_at);
    return { settled: succeeded, won: true, outcome: "succeeded" };
  }

  /** Canceled elsewhere, or past its own deadline, while it ran. */
  async #recordStop(job: Job, reason: StopReason, log: Logger): Promise<AttemptEnd> {
    log.info("Job stopped while running", { reason });
    const canceled =
      reason === "deadline" && job.deadline !== undefined
        ? await this.#deps.store.cancel(job, cancelReasons.deadline(job.deadline), this.#now())
        : undefined;
    return {
      settled: canceled ?? (await this.#deps.store.get(job.tenant, job.id, true)),
      won: canceled !== undefined,
      outcome: "canceled",
    };
  }

  /** A failed attempt: requeued (throws, so the message comes back later) while retrying may help, else failed. */
  async #recordFailure(
    job: Job,
    err: unknown,
    receiveCount: number,
    admission: Admission | undefined,
    log: Logger,
  ): Promise<AttemptEnd> {
    const { store, options } = this.#deps;
    const error = toJobError(err);
    if (admission?.admitted && err instanceof ProviderError && err.failure === "rate_limited") {
      await this.#deps.providerLimits
        ?.penalize(job.provider, admission.key, this.#now())
        .catch((e: unknown) => log.warn("Could not lower the provider key's rate", { err: e }));
    }
    if (isRetryable(err) && receiveCount < options.maxAttempts) {
      if (await store.requeue(job, error, this.#now())) {
        const retryAfterMs = err instanceof ProviderError ? err.retryAfterMs : undefined;
        throw new RetryLaterError(error.message, backoffSeconds(receiveCount, retryAfterMs), { cause: err });
      }
      // Canceled between the failure and the requeue.
      return { settled: await store.get(job.tenant, job.id, true), won: false, outcome: "canceled" };
    }
    log.warn("Job failed", { code: error.code, attempts: receiveCount, err });
    const failed = await store.fail(job, error, this.#now());
    if (failed) this.#metrics.record("JobsFailed", 1);
    return {
      settled: failed ?? (await store.get(job.tenant, job.id, true)),
      won: failed !== undefined,
      outcome: "failed",
    };
  }

  /**
   * Hands the job to the Batch API and returns: no Lambda waits for the batch. A job that already holds a batch
   * (its message came back after the submission was recorded) is not sent twice.
   */
  async #submitBatch(job: Job, receiveCount: number, log: Logger): Promise<RunOutcome> {
    const lane = this.#deps.batchLane;
    if (!lane || job.batch) return "submitted";
    try {
      const recorded = await lane.submit(job);
      log.info("Job sent through the provider's Batch API", {
        batchId: recorded?.batch?.id,
        canceled: recorded === undefined,
      });
      return "submitted";
    } catch (err) {
      const error = toJobError(err);
      if (isRetryable(err) && receiveCount < this.#deps.options.maxAttempts) {
        if (await this.#deps.store.requeue(job, error, this.#now())) {
          const retryAfterMs = err instanceof ProviderError ? err.retryAfterMs : undefined;
          throw new RetryLaterError(error.message, backoffSeconds(receiveCount, retryAfterMs), {
            cause: err,
          });
        }
        return "canceled";
      }
      log.warn("Job failed", { code: error.code, attempts: receiveCount, err });
      return this.failBatch(job, error);
    }
  }

  /**
   * A batch-lane job's images arrived (the batch poller): stored, recorded and announced as the worker does for
   * any job, and priced at the batch price. Safe to run again after a crash: the images go to the same keys, and
   * only a job still running is settled.
   */
  async completeBatch(job: Job, execution: Execution): Promise<RunOutcome> {
    const log = this.#deps.logger.child({ jobId: job.id, tenant: job.tenant, batchId: job.batch?.id });
    const result = await this.#result(job, execution, this.#deps.registry, undefined, new Map(), "batch");
    let settled = await this.#deps.store.succeed(job, result, this.#now());
    let outcome: RunOutcome = "succeeded";
    if (settled) {
      this.#metrics.record("JobsSucceeded", 1);
      this.#metrics.record("ImagesProduced", result.images.length);
      this.#metrics.record("EndToEndLatency", this.#now() - job.created_at);
    } else {
      settled = await this.#deps.store.get(job.tenant, job.id, true);
      // Another poll settled it with these very images (the same keys): they stay. A cancel discards them.
      if (settled?.status !== "succeeded")
        await this.#discard(
          result.images.map((i) => i.key),
          log,
        );
      outcome = "discarded";
    }
    await this.#ended(settled ?? job, outcome === "succeeded", log);
    await this.#settled(settled);
    return outcome;
  }

  /** A batch-lane job that cannot succeed: failed with `error`, its hold given back, its webhook told. */
  async failBatch(job: Job, error: JobError): Promise<RunOutcome> {
    const log = this.#deps.logger.child({ jobId: job.id, tenant: job.tenant, batchId: job.batch?.id });
    const failed = await this.#deps.store.fail(job, error, this.#now());
    if (failed) this.#metrics.record("JobsFailed", 1);
    const settled = failed ?? (await this.#deps.store.get(job.tenant, job.id, true));
    await this.#ended(settled ?? job, failed !== undefined, log);
    await this.#settled(settled);
    return failed ? "failed" : "skipped";
  }

  /** A job found settled (a poll after a crash): what it held goes back, its events are handed on again. */
  async replaySettled(job: Job): Promise<void> {
    await this.#ended(job, false, this.#deps.logger.child({ jobId: job.id, tenant: job.tenant }));
    await this.#settled(job);
  }

  /**
   * Gives back what an ended job held and counts its usage. `won`: this worker's write ended it, so it alone
   * settles the day's images and records usage. The job has ended either way; a failure here is logged.
   */
  async #ended(job: Job, won: boolean, log: Logger): Promise<void> {
    try {
      await this.#deps.limits?.releaseJob(job, won);
      if (won && job.status === "succeeded") await this.#deps.usage?.recordSuccess(job, this.#now());
    } catch (err) {
      log.error("Could not release the job's limits or record its usage", { err });
    }
  }

  /** Wakes waiters and hands on the job's events. A failed dispatch throws: the message comes back for it. */
  async #settled(job: Job | undefined): Promise<void> {
    if (!job) return;
    announceSettled(job.id, isTerminal(job.status) ? job : undefined);
    await this.#deps.webhooks.dispatch(job);
  }

  /**
   * Aborts when the job is canceled elsewhere (checked every `cancelCheckMs`, or at once when the cancel
   * happens in this process) or when its deadline passes.
   */
  #watchForStop(job: Job): { signal: AbortSignal; end(): void } {
    const stop = new AbortController();
    const ended = new AbortController();
    const abort = (reason: StopReason) => {
      if (!ended.signal.aborted && !stop.signal.aborted) stop.abort(reason);
    };
    const timer =
      job.deadline === undefined
        ? undefined
        : setTimeout(() => abort("deadline"), Math.max(0, job.deadline - this.#now()));
    void (async () => {
      while (!ended.signal.aborted && !stop.signal.aborted) {
        await whenSettled(job.id, this.#deps.options.cancelCheckMs, ended.signal);
        if (ended.signal.aborted) return;
        const latest = await this.#deps.store.get(job.tenant, job.id, true).catch(() => job);
        if (latest && latest.status !== "running") abort("canceled");
      }
    })();
    return {
      signal: stop.signal,
      end: () => {
        clearTimeout(timer);
        ended.abort();
      },
    };
  }

  async #discard(keys: string[], log: Logger): Promise<void> {
    await this.#deps.images
      .delete(keys)
      .catch((err: unknown) => log.warn("Could not delete a discarded result's images", { err }));
  }

  async #execute(
    job: Job,
    remainingMs: () => number,
    stop: AbortSignal,
    handover: Map<string, Buffer>,
    admission?: Admission,
  ) {
    const { images, options } = this.#deps;
    const key = admission?.admitted ? admission.key : undefined;
    const registry = (key && this.#deps.keyRegistries?.[key]) || this.#deps.registry;
    // Leave time to store the results and record the outcome before Lambda stops us.
    const budget = Math.min(options.providerTimeoutMs, remainingMs() - 10_000);
    if (budget <= 0) throw new RetryLaterError("Not enough time left in this invocation", 1);
    const previews =
      "partial_images" in job.input && (job.input.partial_images ?? 0) > 0
        ? new PartialImageSink(job, {
            store: this.#deps.store,
            images,
            logger: this.#deps.logger,
            now: this.#now,
          })
        : undefined;
    const execution = await executors[job.operation](job, {
      registry,
      images,
      signal: AbortSignal.any([AbortSignal.timeout(budget), stop]),
      deadline: Date.now() + budget,
      sourcesFolder: (tenant) => options.sourceFolders?.[tenant] ?? options.sourceFolders?.["*"],
      onPartialImage: previews?.add,
    });
    // A result that arrives after a cancel is never stored.
    stop.throwIfAborted();
    return this.#result(job, execution, registry, key, handover, "interactive");
  }

  /** What an execution made, stored and priced (at the batch price for the batch lane), ready to record. */
  async #result(
    job: Job,
    execution: Execution,
    registry: ProviderRegistry,
    key: string | undefined,
    handover: Map<string, Buffer>,
    tier: PriceTier,
  ) {
    const made = { provider: execution.provider, model: execution.model };
    const kept = await Promise.all(
      execution.images.map((img, index) => this.#store(job, img, index, made, handover)),
    );
    const stored = kept.map((k) => k.image);
    const tokens = sumTokens(execution.usages);
    const model = registry.model(execution.model);
    // What was made, resolved: never "auto", never the request's word for it.
    const asked = job.input.quality;
    const quality =
      execution.quality ??
      (asked !== undefined && asked !== "auto" && model?.qualities.includes(asked) ? asked : undefined);
    const background = kept.some((k) => k.transparent) ? ("transparent" as const) : ("opaque" as const);
    const costMicro =
      model &&
      estimateCostMicroUsd(
        priceFor(model, execution.provider, tier),
        // What the provider made is what it bills, before any resize to the job's output_size.
        stored.map((image) => image.generated ?? image),
        job.input.quality,
        tokens.total_tokens === undefined
          ? undefined
          : {
              inputTokens: tokens.input_tokens ?? 0,
              outputTokens: tokens.output_tokens ?? 0,
              totalTokens: tokens.total_tokens,
            },
      );
    return {
      images: stored,
      output: { ...execution.output, background, ...(quality !== undefined && { quality }) },
      provider: execution.provider,
      notice: execution.notice,
      fallbacks: execution.fallbacks,
      ...(key !== undefined && { provider_key: key }),
      ...(costMicro !== undefined && { cost_usd: fromMicroUsd(costMicro) }),
      usage: {
        images: stored.length,
        provider_calls: execution.providerCalls,
        provider_ms: execution.providerMs,
        ...tokens,
      },
    };
  }

  /** Conforms and stores one image; says whether it has transparent pixels (the response's `background`). */
  async #store(
    job: Job,
    image: ProviderImage,
    index: number,
    made: { provider: string; model: string },
    handover: Map<string, Buffer>,
  ): Promise<{ image: StoredImage; transparent: boolean }> {
    const input = job.input;
    const encoding = {
      format: input.output_format,
      compression: input.output_compression,
      keepAlpha: input.background !== "opaque",
    };
    const outputSize = input.output_size === undefined ? undefined : parseSize(input.output_size);
    const delivered = outputSize ? await deliverAt(image.data, outputSize, encoding) : { bytes: image.data };
    const bytes = await conform(delivered.bytes, encoding);
    const [facts, transparent] = await Promise.all([describeImage(bytes), hasTransparency(bytes)]);
    const format = input.output_format;
    const key = outputKey(job.tenant, job.id, index, format);
    await this.#deps.images.put(key, bytes, format, facts.sha256);
    handover.set(key, bytes);
    const stored: StoredImage = {
      index,
      key,
      width: facts.width,
      height: facts.height,
      format,
      bytes: facts.bytes,
      sha256: facts.sha256,
      ...(delivered.made && { generated: delivered.made }),
      ...(image.revisedPrompt !== undefined && { revised_prompt: image.revisedPrompt }),
      ...made,
    };
    return { image: stored, transparent };
  }
}

type Breakdown = NonNullable<JobUsage["input_tokens_details"]>;

/**
 * The provider's token figures, summed over the calls a request was split into. Only when every call reported
 * them (a partial sum would understate), and each breakdown only when every call gave one: none are made up.
 */
function sumTokens(
  usages: readonly (TokenUsage | undefined)[],
): Pick<
  JobUsage,
  "input_tokens" | "output_tokens" | "total_tokens" | "input_tokens_details" | "output_tokens_details"
> {
  if (usages.length === 0 || usages.some((u) => u === undefined)) return {};
  const all = usages as readonly TokenUsage[];
  const sum = (f: (u: TokenUsage) => number) => all.reduce((a, u) => a + f(u), 0);
  const breakdown = (pick: (u: TokenUsage) => TokenBreakdown | undefined): Breakdown | undefined => {
    const parts = all.map(pick);
    if (parts.some((p) => p === undefined)) return undefined;
    const present = parts as TokenBreakdown[];
    return {
      text_tokens: present.reduce((a, p) => a + p.textTokens, 0),
      image_tokens: present.reduce((a, p) => a + p.imageTokens, 0),
    };
  };
  const input = breakdown((u) => u.inputTokensDetails);
  const output = breakdown((u) => u.outputTokensDetails);
  return {
    input_tokens: sum((u) => u.inputTokens),
    output_tokens: sum((u) => u.outputTokens),
    total_tokens: sum((u) => u.totalTokens),
    ...(input && { input_tokens_details: input }),
    ...(output && { output_tokens_details: output }),
  };
}
