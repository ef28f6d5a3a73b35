import type { SQSRecord } from "aws-lambda";
import type { Logger } from "../logging.ts";
import { type Metrics, noMetrics } from "../metrics.ts";
import type { SqsConsumer } from "../queue/messages.ts";
import { isTerminal, type JobError, type JobMessage, jobMessage } from "./model.ts";
import type { EventPublisher } from "./ports/events.ts";
import { announceSettled } from "./signals.ts";
import type { JobStore } from "./store.ts";

export interface DeadLetterDeps {
  store: JobStore;
  /** The failed job's `job.failed` event goes out through it, as the worker's would. */
  webhooks: EventPublisher;
  logger: Logger;
  metrics?: Metrics;
  now?: () => number;
}

export type DeadLetterOutcome = "failed" | "already_settled" | "no_such_job";

/**
 * The jobs DLQ's consumer. A message lands there after more receives than the worker's own attempts: the worker
 * crashed or timed out each time, or could not record an outcome. Its job would otherwise stay queued or running
 * forever, so it is failed here with `retries_exhausted`. Conditional writes make a redelivery harmless.
 */
export class DeadLetters implements SqsConsumer<JobMessage> {
  readonly schema = jobMessage;
  // No job to fail. Reported as failed, it stays in the DLQ, where the depth and age alarms keep it visible.
  readonly malformedMessage = "Malformed message in the jobs DLQ; left there for an operator";

  readonly #store: JobStore;
  readonly #webhooks: EventPublisher;
  readonly #logger: Logger;
  readonly #metrics: Metrics;
  readonly #now: () => number;

  constructor(deps: DeadLetterDeps) {
    this.#store = deps.store;
    this.#webhooks = deps.webhooks;
    this.#logger = deps.logger;
    this.#metrics = deps.metrics ?? noMetrics;
    this.#now = deps.now ?? Date.now;
  }

  /** Fails the message's job; false leaves the message to be received again. */
  async consume(message: JobMessage, record: SQSRecord): Promise<boolean> {
    const log = this.#logger.child({ messageId: record.messageId });
    const { tenant, job_id: jobId } = message;
    try {
      const outcome = await this.settle(tenant, jobId);
      log.info("Dead letter handled", { jobId, tenant, outcome });
      return true;
    } catch (err) {
      log.error("Could not fail the job of a dead letter; it will be retried", { jobId, tenant, err });
      return false;
    }
  }

  /** Fails the job unless it already reached a terminal status. */
  async settle(tenant: string, jobId: string): Promise<DeadLetterOutcome> {
    const job = await this.#store.get(tenant, jobId, true);
    if (!job) return "no_such_job";
    if (isTerminal(job.status)) {
      // Hands on an event an earlier pass recorded but could not dispatch; a no-op once it went out.
      await this.#webhooks.dispatch(job);
      return "already_settled";
    }
    const last = job.last_error ? ` Last error: ${job.last_error.message}` : "";
    const error: JobError = {
      type: "server_error",
      code: "retries_exhausted",
      message: `The job was abandoned after ${job.attempts} attempt${job.attempts === 1 ? "" : "s"}.${last}`,
    };
    // False means it settled between the read and this write (a late worker finished it): nothing to do.
    const failed = await this.#store.fail(job, error, this.#now());
    if (!failed) return "already_settled";
    this.#metrics.record("JobsFailed", 1);
    announceSettled(job.id);
    // A failed dispatch throws: the dead letter is retried, and the conditional write above makes that harmless
    // (the job is then already settled, and its event goes out on that pass).
    await this.#webhooks.dispatch(failed);
    this.#logger.warn("Job failed: its message reached the DLQ", {
      jobId,
      tenant,
      status: job.status,
      attempts: job.attempts,
      code: error.code,
    });
    return "failed";
  }
}
