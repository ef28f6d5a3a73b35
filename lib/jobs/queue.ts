import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { delayMessage } from "../queue/messages.ts";
import type { JobPriority } from "./batch.ts";
import type { JobMessage } from "./model.ts";

export class JobQueue {
  readonly #sqs: SQSClient;
  readonly #url: string;
  readonly #batchUrl: string;

  /** `batchQueueUrl`: the batch lane's queue; without one, batch jobs share the interactive queue. */
  constructor(sqs: SQSClient, queueUrl: string, batchQueueUrl?: string) {
    this.#sqs = sqs;
    this.#url = queueUrl;
    this.#batchUrl = batchQueueUrl ?? queueUrl;
  }

  #lane(priority: JobPriority | undefined): string {
    return priority === "batch" ? this.#batchUrl : this.#url;
  }

  /**
   * The tenant is the message group: on a standard queue SQS fair queues then deliver quiet tenants' jobs ahead
   * of a noisy tenant's backlog (the sandbox's poller does the same, infra/sandbox/fair-buffer.ts).
   */
  async send(message: JobMessage, delaySeconds?: number): Promise<void> {
    await this.#sqs.send(
      new SendMessageCommand({
        QueueUrl: this.#lane(message.priority),
        MessageBody: JSON.stringify(message),
        MessageGroupId: message.tenant,
        // SQS's ceiling on a message's delay is 15 minutes.
        ...(delaySeconds !== undefined && {
          DelaySeconds: Math.min(900, Math.max(0, Math.ceil(delaySeconds))),
        }),
      }),
    );
  }

  /** Backoff for a message of `priority`'s lane that will be retried: it reappears after `seconds`. */
  async delay(receiptHandle: string, seconds: number, priority?: JobPriority): Promise<void> {
    await delayMessage(this.#sqs, this.#lane(priority), receiptHandle, seconds);
  }
}
