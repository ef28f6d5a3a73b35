import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { conform, describeImage } from "../images/formats.ts";
import type { JobLimits } from "../limits/limits.ts";
import type { Logger } from "../logging.ts";
import type { ProviderRegistry } from "../providers/registry.ts";
import {
  ProviderError,
  type ProviderFailure,
  type ProviderImage,
  type TokenUsage,
} from "../providers/types.ts";
import { type ImageStore, outputKey } from "../storage/images.ts";
import type { UsageRecorder } from "../usage/ledger.ts";
import { type Job, type JobError, jobMessage, type StoredImage } from "./model.ts";
import { executors } from "./operations/index.ts";
import type { JobQueue } from "./queue.ts";
import { announceSettled } from "./signals.ts";
import type { JobStore } from "./store.ts";

export interface RunnerOptions {
  maxAttempts: number;
  providerTimeoutMs: number;
  /** How long a claim protects a running job from a second worker; the worker's own timeout. */
  leaseMs: number;
}

export interface RunnerDeps {
  store: JobStore;
  queue: JobQueue;
  images: ImageStore;
  registry: ProviderRegistry;
  logger: Logger;
  options: RunnerOptions;
  /** Given back what a job held when it ends. */
  limits?: JobLimits;
  /** Told of each success once, by the worker whose write made it so. */
  usage?: UsageRecorder;
  now?: () => number;
}

/** The job is fine but cannot run now; its message comes back after `delaySeconds`. */
export class RetryLaterError extends Error {
  override name = "RetryLaterError";
  readonly delaySeconds: number;
  constructor(message: string, delaySeconds: number, options?: { cause?: unknown }) {
    super(message, options);
    this.delaySeconds = delaySeconds;
  }
}

/** A message that can never succeed. Reported as failed and never delayed, it reaches the DLQ. */
export class PoisonMessageError extends Error {
  override name = "PoisonMessageError";
}

export type RunOutcome = "succeeded" | "failed" | "skipped" | "discarded";

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

export function toJobError(err: unknown): JobError {
  if (err instanceof ProviderError) return { ...failureToJobError[err.failure], message: err.message };
  return {
    type: "server_error",
    code: "internal_error",
    message: "The job failed because of an internal error.",
  };
}

const isRetryable = (err: unknown) => !(err instanceof ProviderError) || err.retryable;

/** Exponential backoff with full jitter, never below the provider's own Retry-After. */
export function backoffSeconds(
  attempt: number,
  retryAfterMs: number | undefined,
  random = Math.random,
): number {
  const ceiling = Math.min(300, 5 * 2 ** Math.max(0, attempt - 1));
  const jittered = ceiling / 2 + random() * (ceiling / 2);
  return Math.ceil(Math.max(jittered, (retryAfterMs ?? 0) / 1000));
}

export class JobRunner {
  readonly #d: RunnerDeps;
  readonly #now: () => number;

  constructor(deps: RunnerDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
  }

  /** Lambda's SQS contract: failed records are reported, so only they come back. */
  async processBatch(event: SQSEvent, remainingMs: () => number): Promise<SQSBatchResponse> {
    const results = await Promise.all(event.Records.map((r) => this.#processRecord(r, remainingMs)));
    return {
      batchItemFailures: results.flatMap((ok, i) =>
        ok ? [] : [{ itemIdentifier: event.Records[i]?.messageId ?? "" }],
      ),
    };
  }

  async #processRecord(record: SQSRecord, remainingMs: () => number): Promise<boolean> {
    const log = this.#d.logger.child({ messageId: record.messageId });
    let body: unknown;
    try {
      body = JSON.parse(record.body);
    } catch {
      body = undefined;
    }
    const parsed = jobMessage.safeParse(body);
    if (!parsed.success) {
      // Never swallowed: reported as failed, it reaches the DLQ after maxReceiveCount and raises an alarm there.
      log.error("Malformed job message", { body: record.body.slice(0, 200) });
      return false;
    }
    const receiveCount = Number(record.attributes.ApproximateReceiveCount ?? "1");
    try {
      const outcome = await this.run(parsed.data.tenant, parsed.data.job_id, receiveCount, remainingMs);
      log.info("Job message processed", { jobId: parsed.data.job_id, tenant: parsed.data.tenant, outcome });
      return true;
    } catch (err) {
      if (err instanceof PoisonMessageError) {
        log.error("Job message can never succeed; it goes to the DLQ", { jobId: parsed.data.job_id, err });
        return false;
      }
      const delay =
        err instanceof RetryLaterError ? err.delaySeconds : backoffSeconds(receiveCount, undefined);
      log.warn("Job will be retried", { jobId: parsed.data.job_id, delaySeconds: delay, err });
      await this.#d.queue.delay(record.receiptHandle, delay).catch((e: unknown) => {
        log.warn("Could not set the retry delay; the queue's visibility timeout applies", { err: e });
      });
      return false;
    }
  }

  /** Runs one job at most once to success. Throws to have the message redelivered. */
  async run(
    tenant: string,
    jobId: string,
    receiveCount: number,
    remainingMs: () => number,
  ): Promise<RunOutcome> {
    const { store, options } = this.#d;
    const log = this.#d.logger.child({ jobId, tenant });
    const claim = await store.claim(tenant, jobId, this.#now(), options.leaseMs);
    if (!claim.claimed) {
      if (!claim.job) {
        // Jobs are recorded before their message is sent: nothing will ever make this one exist.
        throw new PoisonMessageError("The message names a job that does not exist.");
      }
      if (claim.job.status === "running") {
        // Another worker holds a live lease (duplicate delivery). Check back after it should be done.
        throw new RetryLaterError(
          "Job is running elsewhere",
          Math.ceil(((claim.job.lease_until ?? 0) - this.#now()) / 1000) + 1,
        );
      }
      log.info("Job already settled; nothing to do", { status: claim.job.status });
      // A worker that died after settling may not have released the slot; releasing is idempotent.
      await this.#ended(claim.job, false, log);
      return "skipped";
    }
    const job = claim.job;
    if (receiveCount > options.maxAttempts) {
      // Every attempt ended without an outcome (the worker timed out or died): fail it rather than try again.
      const last = job.last_error;
      const error: JobError = {
        type: "server_error",
        code: "attempts_exhausted",
        message: `The job did not finish in ${options.maxAttempts} attempts.${last ? ` The last error: ${last.message}` : ""}`,
      };
      log.warn("Job failed", { code: error.code, attempts: receiveCount });
      return this.#fail(job, error, log);
    }
    try {
      const result = await this.#execute(job, remainingMs);
      const done = await store.succeed(job, result, this.#now());
      if (!done) {
        log.info("Job left 'running' while it ran (canceled); its result is discarded");
        await this.#ended(job, false, log);
        return "discarded";
      }
      const succeeded: Job = {
        ...job,
        status: "succeeded",
        output: { images: result.images },
        usage: result.usage,
      };
      await this.#ended(succeeded, true, log);
      announceSettled(job.id);
      return "succeeded";
    } catch (err) {
      const error = toJobError(err);
      if (isRetryable(err) && receiveCount < options.maxAttempts) {
        await store.requeue(job, error, this.#now());
        const retryAfterMs = err instanceof ProviderError ? err.retryAfterMs : undefined;
        throw new RetryLaterError(error.message, backoffSeconds(receiveCount, retryAfterMs), { cause: err });
      }
      log.warn("Job failed", { code: error.code, attempts: receiveCount, err });
      return this.#fail(job, error, log);
    }
  }

  async #fail(job: Job, error: JobError, log: Logger): Promise<RunOutcome> {
    const failed = await this.#d.store.fail(job, error, this.#now());
    await this.#ended({ ...job, status: "failed", error }, failed, log);
    announceSettled(job.id);
    return "failed";
  }

  /**
   * Gives back what an ended job held and counts its usage. `won`: this worker's write ended it, so it alone
   * settles the day's images and records usage. The job has ended either way; a failure here is logged.
   */
  async #ended(job: Job, won: boolean, log: Logger): Promise<void> {
    try {
      await this.#d.limits?.releaseJob(job, won);
      if (won && job.status === "succeeded") await this.#d.usage?.recordSuccess(job, this.#now());
    } catch (err) {
      log.error("Could not release the job's limits or record its usage", { err });
    }
  }

  async #execute(job: Job, remainingMs: () => number) {
    const { registry, images, options } = this.#d;
    // Leave time to store the results and record the outcome before Lambda stops us.
    const budget = Math.min(options.providerTimeoutMs, remainingMs() - 10_000);
    if (budget <= 0) throw new RetryLaterError("Not enough time left in this invocation", 1);
    const execution = await executors[job.operation](job, {
      registry,
      images,
      signal: AbortSignal.timeout(budget),
      deadline: Date.now() + budget,
    });
    const stored = await Promise.all(execution.images.map((img, index) => this.#store(job, img, index)));
    return {
      images: stored,
      provider: execution.provider,
      notice: execution.notice,
      usage: {
        images: stored.length,
        provider_calls: execution.providerCalls,
        provider_ms: execution.providerMs,
        ...sumTokens(execution.usages),
      },
    };
  }

  async #store(job: Job, image: ProviderImage, index: number): Promise<StoredImage> {
    const input = job.input;
    const bytes = await conform(image.data, {
      format: input.output_format,
      compression: input.output_compression,
      keepAlpha: input.background !== "opaque",
    });
    const facts = await describeImage(bytes);
    const format = input.output_format;
    const key = outputKey(job.tenant, job.id, index, format);
    await this.#d.images.put(key, bytes, format, facts.sha256);
    return {
      index,
      key,
      width: facts.width,
      height: facts.height,
      format,
      bytes: facts.bytes,
      sha256: facts.sha256,
      ...(image.revisedPrompt !== undefined && { revised_prompt: image.revisedPrompt }),
    };
  }
}

function sumTokens(usages: readonly (TokenUsage | undefined)[]) {
  const present = usages.filter((u): u is TokenUsage => u !== undefined);
  if (present.length === 0) return {};
  return {
    input_tokens: present.reduce((a, u) => a + u.inputTokens, 0),
    output_tokens: present.reduce((a, u) => a + u.outputTokens, 0),
    total_tokens: present.reduce((a, u) => a + u.totalTokens, 0),
  };
}
