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

  async send(message: JobMessage): Promise<void> {
    await this.#sqs.send(
      new SendMessageCommand({ QueueUrl: this.#url, MessageBody: JSON.stringify(message) }),
    );
  }

  /** Backoff for a message that will be retried: it reappears after `seconds` instead of the queue default. */
  async delay(receiptHandle: string, seconds: number): Promise<void> {
    await delayMessage(this.#sqs, this.#url, receiptHandle, seconds);
  }
}
