import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { delayMessage } from "../queue/messages.ts";
import type { JobMessage } from "./model.ts";

export class JobQueue {
  readonly #sqs: SQSClient;
  readonly #url: string;

  constructor(sqs: SQSClient, queueUrl: string) {
    this.#sqs = sqs;
    this.#url = queueUrl;
  }

  /**
   * The tenant is the message group: on a standard queue SQS fair queues then deliver quiet tenants' jobs ahead
   * of a noisy tenant's backlog (the sandbox's poller does the same, infra/sandbox/fair-buffer.ts).
   */
  async send(message: JobMessage, delaySeconds?: number): Promise<void> {
    await this.#sqs.send(
      new SendMessageCommand({
        QueueUrl: this.#url,
        MessageBody: JSON.stringify(message),
        MessageGroupId: message.tenant,
        // SQS's ceiling on a message's delay is 15 minutes.
        ...(delaySeconds !== undefined && {
          DelaySeconds: Math.min(900, Math.max(0, Math.ceil(delaySeconds))),
        }),
      }),
    );
  }

  /** Backoff for a message that will be retried: it reappears after `seconds` instead of the queue default. */
  async delay(receiptHandle: string, seconds: number): Promise<void> {
    await delayMessage(this.#sqs, this.#url, receiptHandle, seconds);
  }
}
