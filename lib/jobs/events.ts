import type { Job, JobEventType, JobStatus, WebhookEvent } from "./model.ts";

/** The event a transition into `status` produces. Requeue (back to queued) produces none. */
export const eventForStatus: Partial<Record<JobStatus, JobEventType>> = {
  running: "job.started",
  succeeded: "job.succeeded",
  failed: "job.failed",
  canceled: "job.canceled",
};

/** Map key on the job item: `job.started` → `started` (a plain name, no dot inside a document path). */
export const eventKey = (type: JobEventType) => type.slice("job.".length);

/** Deterministic, so re-recording or re-enqueueing an event can never make a second `webhook-id`. */
export const webhookId = (jobId: string, type: JobEventType) => `msg_${jobId.slice(4)}_${eventKey(type)}`;

/** The pending event for `type`, or undefined when the job has no webhook or its filter leaves `type` out. */
export function newEvent(job: Pick<Job, "id" | "webhook">, type: JobEventType, now: number) {
  if (!job.webhook?.events.includes(type)) return undefined;
  const event: WebhookEvent = {
    id: webhookId(job.id, type),
    type,
    created_at: now,
    status: "pending",
    attempt_count: 0,
    attempts: [],
  };
  return event;
}

/** Events recorded but never handed to the delivery queue (attempt 1 not yet made). */
export function undispatched(job: Job): WebhookEvent[] {
  return Object.values(job.webhook_events ?? {}).filter(
    (e) => e.status === "pending" && e.attempt_count === 0,
  );
}
