import type { SQSRecord } from "aws-lambda";
import type { WebhookEvent } from "../jobs/model.ts";
import { backoffSeconds, RetryLaterError } from "../jobs/retry.ts";
import type { JobStore } from "../jobs/store.ts";
import { jobResource } from "../jobs/view.ts";
import type { Logger } from "../logging.ts";
import { type AddressPolicy, OutboundRequestError, outboundRequest } from "../net/outbound.ts";
import { receiveCount, type SqsConsumer } from "../queue/messages.ts";
import type { ImageStore } from "../storage/images.ts";
import type { DisabledEndpoints } from "./endpoints.ts";
import type { AttemptResult, EventRef, WebhookEventStore } from "./event-store.ts";
import { type DeliveryMessage, deliveryMessage, type WebhookQueue } from "./queue.ts";
import { parseRetryAfter, retryDelayMs } from "./schedule.ts";
import type { WebhookSecrets } from "./secrets.ts";
import { webhookHeaders } from "./signing.ts";

export interface DeliveryOptions {
  /** Seconds to wait before each retry (WEBHOOK_RETRY_SCHEDULE). */
  schedule: readonly number[];
  /** One request, connect to last byte. */
  timeoutMs: number;
  /** ALLOW_PRIVATE_URLS, or a predicate (tests let a loopback receiver count as public). */
  allowPrivate: AddressPolicy;
}

export interface DelivererDeps {
  jobs: JobStore;
  events: WebhookEventStore;
  queue: WebhookQueue;
  secrets: WebhookSecrets;
  endpoints: DisabledEndpoints;
  images: ImageStore;
  logger: Logger;
  options: DeliveryOptions;
  now?: () => number;
  random?: () => number;
}

export type DeliveryOutcome = "delivered" | "retry_scheduled" | "failed" | "skipped" | "waiting" | "dropped";

/** A receiver's answer is read only to be done with it; a bigger body fails the attempt. */
const maxResponseBytes = 64 * 1024;
/** The lease outlives the request by this much: time to sign before and record after. */
const leaseMarginMs = 15_000;
/** A message may arrive this early (SQS delays are whole seconds) and still count as due. */
const earlyToleranceMs = 1_000;

/**
 * The webhooks Lambda: one attempt per message. Each message names (job, event, attempt); the job item is
 * the truth. An attempt is sent only under a lease and recorded only by its holder, so duplicate messages
 * collapse; a retry is a new message delayed to its time (chained, since SQS delays stop at 15 minutes).
 *
 * Guarantee: every event is sent until a 2xx, a 410, or the end of the schedule. The receiver can get an
 * event twice only if this function dies between the receiver's answer and the record of it; the
 * `webhook-id` is the same every time, so receivers deduplicate on it as the spec asks.
 */
export class WebhookDeliverer implements SqsConsumer<DeliveryMessage> {
  readonly schema = deliveryMessage;
  // Reported as failed: after a few receives it reaches the DLQ, where it is seen.
  readonly malformedMessage = "Malformed webhook message";

  readonly #deps: DelivererDeps;
  readonly #now: () => number;
  readonly #random: () => number;

  constructor(deps: DelivererDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#random = deps.random ?? Math.random;
  }

  /** One delivery attempt; false has the message received again after its backoff. */
  async consume(m: DeliveryMessage, record: SQSRecord): Promise<boolean> {
    const log = this.#deps.logger.child({ messageId: record.messageId });
    try {
      const outcome = await this.deliver(m);
      log.info("Webhook message processed", { jobId: m.job_id, event: m.event, attempt: m.attempt, outcome });
      return true;
    } catch (err) {
      const receives = receiveCount(record);
      const delay = err instanceof RetryLaterError ? err.delaySeconds : backoffSeconds(receives, undefined);
      log.warn("Webhook message will be retried", {
        jobId: m.job_id,
        event: m.event,
        delaySeconds: delay,
        err,
      });
      await this.#deps.queue.delay(record.receiptHandle, delay).catch((e: unknown) => {
        log.warn("Could not set the retry delay; the queue's visibility timeout applies", { err: e });
      });
      return false;
    }
  }

  async deliver(m: DeliveryMessage): Promise<DeliveryOutcome> {
    const { jobs, events, endpoints, options } = this.#deps;
    const log = this.#deps.logger.child({ jobId: m.job_id, tenant: m.tenant, event: m.event });
    const job = await jobs.get(m.tenant, m.job_id, true);
    const event = job?.webhook_events?.[m.event];
    if (!job?.webhook || !event) {
      log.error("Webhook message names no recorded event; dropping it");
      return "dropped";
    }
    if (event.status !== "pending") return "dropped";
    const made = event.attempt_count;
    if (m.attempt <= made) {
      // A repeat of the attempt just made: its retry may never have been sent (a crash, a failed send).
      // Sending it again is safe: a second message for one attempt is dropped here.
      if (m.attempt === made) await this.#schedule(m, made + 1, event.next_attempt_at ?? this.#now());
      return "dropped";
    }
    if (m.attempt > made + 1) {
      log.warn("Webhook message is ahead of the recorded attempts; dropping it", { made });
      return "dropped";
    }
    const now = this.#now();
    const due = event.next_attempt_at ?? event.created_at;
    if (due - now > earlyToleranceMs) {
      // Longer than one SQS delay: wait again.
      await this.#schedule(m, m.attempt, due);
      return "waiting";
    }
    const ref: EventRef = { tenant: m.tenant, jobId: m.job_id, key: m.event };
    const leaseUntil = now + options.timeoutMs + leaseMarginMs;
    if (!(await events.lease(ref, made, now, leaseUntil))) {
      // Another delivery holds it. By the time this comes back it has recorded its attempt, or died.
      throw new RetryLaterError(
        "Event is being delivered elsewhere",
        (options.timeoutMs + leaseMarginMs) / 1000,
      );
    }
    const url = job.webhook.url;
    if (await endpoints.isDisabled(m.tenant, url)) {
      await events.skip(ref, leaseUntil, "endpoint_disabled", now);
      log.info("Webhook endpoint is disabled (it answered 410); event skipped");
      return "skipped";
    }

    const { attempt, retryAfterMs, gone, permanent } = await this.#send(url, m.tenant, event, job);
    let result: AttemptResult;
    if (attempt.status !== undefined && attempt.status >= 200 && attempt.status < 300) {
      result = { attempt, status: "delivered" };
    } else if (gone) {
      // Disabled before the attempt is recorded, so a crash in between cannot forget it.
      await endpoints.disable(m.tenant, url, { jobId: job.id, eventId: event.id }, this.#now());
      result = { attempt, status: "failed", reason: "endpoint_gone" };
    } else if (permanent) {
      result = { attempt, status: "failed", reason: "invalid_url" };
    } else {
      const wait = retryDelayMs(made + 1, options.schedule, retryAfterMs, this.#random);
      result =
        wait === undefined
          ? { attempt, status: "failed", reason: "retries_exhausted" }
          : { attempt, status: "pending", nextAttemptAt: attempt.at + attempt.latency_ms + wait };
    }
    if (!(await events.record(ref, made, leaseUntil, result))) {
      log.warn("Lost the lease while sending; the attempt is not recorded");
      return "dropped";
    }
    if (result.status === "pending") {
      await this.#schedule(m, made + 2, result.nextAttemptAt ?? this.#now());
      return "retry_scheduled";
    }
    log.info("Webhook event finished", { status: result.status, reason: result.reason, attempts: made + 1 });
    return result.status === "delivered" ? "delivered" : "failed";
  }

  async #send(url: string, tenant: string, event: WebhookEvent, job: Parameters<typeof jobResource>[0]) {
    const { webhook, ...resource } = await jobResource(job, this.#deps.images);
    // The job as it is now, with fresh image URLs (they expire); its delivery log stays out of the payload.
    const data = { ...resource, webhook: webhook && { url: webhook.url, events: webhook.events } };
    const body = JSON.stringify({
      type: event.type,
      timestamp: new Date(event.created_at).toISOString(),
      data,
    });
    const secrets = await this.#deps.secrets.signing(tenant);
    const at = this.#now();
    const headers = {
      "content-type": "application/json",
      ...webhookHeaders(secrets, event.id, Math.floor(at / 1000), body),
    };
    try {
      const res = await outboundRequest(url, {
        method: "POST",
        headers,
        body,
        timeoutMs: this.#deps.options.timeoutMs,
        maxBytes: maxResponseBytes,
        // A redirect is a failed attempt: the endpoint is the URL the tenant gave, nothing else.
        maxRedirects: 0,
        allowPrivate: this.#deps.options.allowPrivate,
      });
      return {
        attempt: { at, status: res.status, latency_ms: this.#now() - at },
        retryAfterMs: parseRetryAfter(res.headers["retry-after"], this.#now()),
        gone: res.status === 410,
        permanent: false,
      };
    } catch (err) {
      const error =
        err instanceof OutboundRequestError
          ? `${err.failure}: ${err.message}`
          : "internal error while sending";
      if (!(err instanceof OutboundRequestError)) this.#deps.logger.error("Webhook send failed", { err });
      return {
        attempt: { at, latency_ms: this.#now() - at, error },
        retryAfterMs: undefined,
        gone: false,
        permanent: err instanceof OutboundRequestError && err.failure === "scheme",
      };
    }
  }

  /** A message for `attempt`, delivered at `dueAt` or, if that is beyond one SQS delay, a step closer. */
  async #schedule(m: DeliveryMessage, attempt: number, dueAt: number): Promise<void> {
    // Rounded, not ceiled: arriving up to half a second early is within the tolerance, and saves a second.
    await this.#deps.queue.send({ ...m, attempt }, Math.round(Math.max(0, dueAt - this.#now()) / 1000));
  }
}
