import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import * as z from "zod/mini";
import { eventKey, undispatched } from "../jobs/events.ts";
import type { Job } from "../jobs/model.ts";
import type { EventPublisher } from "../jobs/ports/events.ts";
import { delayMessage } from "../queue/messages.ts";

/** The webhooks queue message: a pointer to one event of one job, and the attempt it is for. Never a secret. */
export const deliveryMessage = z.object({
  v: z.literal(1),
  tenant: z.string(),
  job_id: z.string(),
  event: z.string(),
  attempt: z.number().check(z.int(), z.gte(1)),
});
export type DeliveryMessage = z.infer<typeof deliveryMessage>;

/** SQS refuses DelaySeconds above 15 minutes; longer waits are chained, one delayed message after another. */
export const maxDelaySeconds = 900;

/** The webhooks queue: delivery work, separate from image jobs so slow receivers never hold up a worker. */
export class WebhookQueue implements EventPublisher {
  readonly #sqs: SQSClient;
  readonly #url: string;

  constructor(sqs: SQSClient, queueUrl: string) {
    this.#sqs = sqs;
    this.#url = queueUrl;
  }

  async send(message: DeliveryMessage, delaySeconds = 0): Promise<void> {
    await this.#sqs.send(
      new SendMessageCommand({
        QueueUrl: this.#url,
        MessageBody: JSON.stringify(message),
        DelaySeconds: Math.min(maxDelaySeconds, Math.max(0, Math.ceil(delaySeconds))),
      }),
    );
  }

  /**
   * Hands the job's recorded but not yet attempted events to the queue. Safe to repeat: a second message for
   * the same attempt is dropped by the deliverer, so any path that sees pending events may call this.
   */
  async dispatch(job: Job): Promise<number> {
    const events = undispatched(job);
    await Promise.all(
      events.map((e) =>
        this.send({ v: 1, tenant: job.tenant, job_id: job.id, event: eventKey(e.type), attempt: 1 }),
      ),
    );
    return events.length;
  }

  /** The message comes back after `seconds` (lease held by another delivery). */
  async delay(receiptHandle: string, seconds: number): Promise<void> {
    await delayMessage(this.#sqs, this.#url, receiptHandle, seconds);
  }
}
