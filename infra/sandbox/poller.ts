import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import type { Logger } from "../../lib/logging.ts";
import { lambdaContext, type SqsHandler } from "./lambda.ts";

export interface PollerOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  functionName: string;
  handler: SqsHandler;
  batchSize: number;
  concurrency: number;
  functionTimeoutMs: number;
  logger: Logger;
}

/** One received SQS message as Lambda hands it to a handler. */
export function toSqsRecord(m: Message, queueArn: string): SQSRecord {
  const a = m.Attributes ?? {};
  return {
    messageId: m.MessageId ?? "",
    receiptHandle: m.ReceiptHandle ?? "",
    body: m.Body ?? "",
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? "1",
      SentTimestamp: a.SentTimestamp ?? String(Date.now()),
      SenderId: a.SenderId ?? "sandbox",
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: m.MD5OfBody ?? "",
    eventSource: "aws:sqs",
    eventSourceARN: queueArn,
    awsRegion: "us-east-1",
  };
}

/**
 * Lambda's SQS event source mapping, locally: one long-polling receiver hands batches to at most `concurrency`
 * invocations at once, deletes what succeeded and leaves reported failures (or a whole batch whose invocation
 * threw) to reappear after their visibility timeout. One receiver, not one per invocation: the emulator wakes
 * every waiting receive for each new message, so N receivers cost N-1 empty round trips per message.
 */
export class SqsPoller {
  readonly #o: PollerOptions;
  #running = false;
  #receiver: Promise<void> = Promise.resolve();
  readonly #inFlight = new Set<Promise<void>>();
  #slotFreed: (() => void) | undefined;

  constructor(options: PollerOptions) {
    this.#o = options;
  }

  start(): void {
    this.#running = true;
    this.#receiver = this.#receive();
  }

  /** Stops receiving and waits for batches in flight to finish, so nothing is cut off mid-job. */
  async stop(): Promise<void> {
    this.#running = false;
    await this.#receiver;
    await Promise.all(this.#inFlight);
  }

  async #receive(): Promise<void> {
    const { sqs, queueUrl, logger, batchSize, concurrency } = this.#o;
    while (this.#running) {
      if (this.#inFlight.size >= concurrency) {
        await new Promise<void>((resolve) => {
          this.#slotFreed = resolve;
        });
        continue;
      }
      let messages: Message[];
      try {
        const res = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            // As many as the free invocations can take, up to SQS's 10 per receive.
            MaxNumberOfMessages: Math.min(10, (concurrency - this.#inFlight.size) * batchSize),
            // Long enough to idle cheaply, short enough that shutdown never waits long.
            WaitTimeSeconds: 1,
            MessageSystemAttributeNames: ["All"],
          }),
        );
        messages = res.Messages ?? [];
      } catch (err) {
        if (!this.#running) return;
        logger.warn("Receive failed; retrying", { queueUrl, err });
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      for (let i = 0; i < messages.length; i += batchSize) {
        const invocation: Promise<void> = this.#invoke(messages.slice(i, i + batchSize)).finally(() => {
          this.#inFlight.delete(invocation);
          this.#slotFreed?.();
          this.#slotFreed = undefined;
        });
        this.#inFlight.add(invocation);
      }
    }
  }

  async #invoke(messages: Message[]): Promise<void> {
    const { sqs, queueUrl, logger } = this.#o;
    const event: SQSEvent = { Records: messages.map((m) => toSqsRecord(m, this.#o.queueArn)) };
    let failed: Set<string>;
    try {
      const result = await this.#o.handler(
        event,
        lambdaContext(this.#o.functionName, this.#o.functionTimeoutMs),
      );
      failed = new Set((result?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (err) {
      logger.error("Invocation failed; the whole batch will be retried", {
        function: this.#o.functionName,
        err,
      });
      return;
    }
    const done = messages.filter((m) => m.MessageId && !failed.has(m.MessageId));
    if (done.length === 0) return;
    try {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? "" })),
        }),
      );
    } catch (err) {
      // The messages come back and the idempotent handler skips them.
      logger.warn("Delete failed; messages will be redelivered", { err });
    }
  }
}
