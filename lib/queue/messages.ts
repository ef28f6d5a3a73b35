import { ChangeMessageVisibilityCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
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
 * Runs `handle` on every record (all at once, or `oneAtATime` when each is heavy) and reports those it did not
 * finish (false) as batch item failures. A record whose handling throws is logged and reported failed on its
 * own: throwing out of the batch would send every record of it back, finished ones included.
 */
export async function processRecords(
  event: SQSEvent,
  handle: (record: SQSRecord) => Promise<boolean>,
  log: Logger,
  options: { oneAtATime?: boolean } = {},
): Promise<SQSBatchResponse> {
  const settle = async (record: SQSRecord): Promise<boolean> => {
    try {
      return await handle(record);
    } catch (err) {
      log.error("Message handling failed; the message will be received again", {
        messageId: record.messageId,
        err,
      });
      return false;
    }
  };
  const done: boolean[] = [];
  if (options.oneAtATime) for (const record of event.Records) done.push(await settle(record));
  else done.push(...(await Promise.all(event.Records.map(settle))));
  return {
    batchItemFailures: event.Records.filter((_, i) => !done[i]).map((r) => ({ itemIdentifier: r.messageId })),
  };
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
