import { ChangeMessageVisibilityCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { SQSRecord } from "aws-lambda";
import type * as z from "zod/mini";
import type { Logger } from "../logging.ts";

// What every SQS consumer (worker, webhooks, inbox, jobs DLQ) does the same way: check each message at the trust
// boundary, and answer Lambda with the records that failed (ReportBatchItemFailures), so that only they come back
// and, after maxReceiveCount, reach the queue's DLQ. A message is never swallowed.

/** How much of a malformed body a log line keeps: enough to recognise it, not a whole payload. */
export const bodyExcerptChars = 200;

/**
 * The message a record carries, or undefined when its body is not JSON of `schema`'s shape. Then `malformed` is
 * logged at error with the start of the body, and the caller reports the record failed.
 */
export function parseMessage<S extends z.ZodMiniType>(
  record: SQSRecord,
  schema: S,
  log: Logger,
  malformed: string,
): z.infer<S> | undefined {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    body = undefined;
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  log.error(malformed, { body: record.body.slice(0, bodyExcerptChars) });
  return undefined;
}

/** How many times SQS has handed out this message, this time included. */
export function receiveCount(record: SQSRecord): number {
  return Number(record.attributes.ApproximateReceiveCount ?? "1");
}

/**
 * What a queue's consumer (the worker's runner, the webhook deliverer, the jobs DLQ's, the inbox) gives the
 * function's batch handling (lib/middleware/batch.ts): the shape of its messages, checked at the trust boundary
 * before `consume` sees one, and how to consume one.
 */
export interface SqsConsumer<M> {
  readonly schema: z.ZodMiniType<M>;
  /** Logged at error, with the start of the body, for a record that is not a message; the record is reported failed. */
  readonly malformedMessage: string;
  /** Handle records one at a time, when each is heavy (decodes an image); in parallel otherwise. */
  readonly oneAtATime?: boolean;
  /** Called for each malformed record (a metric). */
  rejectMalformed?(): void;
  /**
   * Handles one message. False, or a throw, reports the record failed: it comes back, and after maxReceiveCount
   * reaches the queue's DLQ. `remainingMs` is the invocation's time left.
   */
  consume(message: M, record: SQSRecord, remainingMs: () => number): Promise<boolean>;
}

/** SQS's ceiling on a message's visibility timeout (12 hours). */
const maxVisibilitySeconds = 43_200;

/** A received message comes back after `seconds` instead of the queue's default: backoff without a new message. */
export async function delayMessage(
  sqs: SQSClient,
  queueUrl: string,
  receiptHandle: string,
  seconds: number,
): Promise<void> {
  await sqs.send(
    new ChangeMessageVisibilityCommand({
      QueueUrl: queueUrl,
      ReceiptHandle: receiptHandle,
      VisibilityTimeout: Math.min(maxVisibilitySeconds, Math.max(0, Math.round(seconds))),
    }),
  );
}
