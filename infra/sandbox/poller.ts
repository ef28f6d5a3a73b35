import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import type { Logger } from "../../lib/logging.ts";
import { FairBuffer } from "./fair-buffer.ts";
import { lambdaContext, type SqsHandler } from "./lambda.ts";

/**
 * SQS fair queues, which fauxqs lacks: the poller reads up to `lookahead` messages ahead of its invocations and
 * hands them out by message group (FairBuffer), so one tenant's backlog does not hold back another's jobs.
 */
export interface FairnessOptions {
  /** The message's group (the tenant): SQS's MessageGroupId, or read from the body where the emulator drops it. */
  groupOf(message: Message): string;
  /** Messages held beyond those being handled. A backlog deeper than this is only seen as it drains. */
  lookahead: number;
  /** The queue's visibility timeout: a held message's is extended before it runs out, so it is not received twice. */
  visibilityTimeoutSeconds: number;
}

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
  fairness?: FairnessOptions | undefined;
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
  /** Received, not yet handed to an invocation: only with fairness, otherwise a receive takes what slots are free. */
  readonly #buffer = new FairBuffer<Message>();
  #wake: (() => void) | undefined;

  constructor(options: PollerOptions) {
    this.#o = options;
  }

  start(): void {
    this.#running = true;
    this.#receiver = this.#receive();
  }

  /**
   * Stops receiving and waits for batches in flight to finish, so nothing is cut off mid-job. Messages read ahead
   * and not started are made visible again at once, for another consumer.
   */
  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#receiver;
    await this.#setVisibility(this.#buffer.drain(), 0);
    await Promise.all(this.#inFlight);
  }

  async #receive(): Promise<void> {
    const { sqs, queueUrl, logger, batchSize, concurrency, fairness } = this.#o;
    while (this.#running) {
      const room =
        (concurrency - this.#inFlight.size) * batchSize + (fairness?.lookahead ?? 0) - this.#buffer.size;
      if (room <= 0) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        continue;
      }
      let messages: Message[];
      try {
        const res = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            // As many as the free invocations (and the read-ahead) can take, up to SQS's 10 per receive.
            MaxNumberOfMessages: Math.min(10, room),
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
      const now = Date.now();
      for (const m of messages) this.#buffer.push(m, fairness ? fairness.groupOf(m) : "", now);
      this.#dispatch();
      if (fairness) await this.#extendHeld(fairness.visibilityTimeoutSeconds);
    }
  }

  /** Fills the free invocation slots from the buffer, fairly between groups. */
  #dispatch(): void {
    while (this.#running && this.#inFlight.size < this.#o.concurrency && this.#buffer.size > 0) {
      const taken: { item: Message; group: string }[] = [];
      for (
        let next = this.#buffer.take();
        next;
        next = taken.length < this.#o.batchSize ? this.#buffer.take() : undefined
      )
        taken.push(next);
      const invocation: Promise<void> = this.#invoke(taken.map((t) => t.item)).finally(() => {
        for (const t of taken) this.#buffer.done(t.group);
        this.#inFlight.delete(invocation);
        this.#dispatch();
        this.#wake?.();
        this.#wake = undefined;
      });
      this.#inFlight.add(invocation);
    }
  }

  /** Held messages past half their visibility timeout get a whole one again. */
  async #extendHeld(visibilityTimeoutSeconds: number): Promise<void> {
    const now = Date.now();
    const due = this.#buffer.renewOlderThan(now - (visibilityTimeoutSeconds * 1000) / 2, now);
    await this.#setVisibility(due, visibilityTimeoutSeconds);
  }

  async #setVisibility(messages: Message[], seconds: number): Promise<void> {
    const { sqs, queueUrl, logger } = this.#o;
    for (let i = 0; i < messages.length; i += 10) {
      const entries = messages.slice(i, i + 10).map((m, j) => ({
        Id: String(j),
        ReceiptHandle: m.ReceiptHandle ?? "",
        VisibilityTimeout: seconds,
      }));
      try {
        await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      } catch (err) {
        // Not extended: the message comes back after its timeout and the idempotent handler skips a duplicate.
        logger.warn("Could not change held messages' visibility", { err });
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
