import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { Logger } from "../logging.ts";
import { parseMessage, type SqsConsumer } from "../queue/messages.ts";

// Lambda's SQS contract (ReportBatchItemFailures) through Powertools' batch processor: each record is checked
// against the consumer's zod schema, then handled; those that fail are reported, so only they come back and,
// after maxReceiveCount, reach the queue's DLQ. A message is never swallowed.

/** A record the consumer reported failed (false): it logged why; the processor reports it. */
class RecordFailedError extends Error {
  override name = "RecordFailedError";
}

/** The SQS handler at the end of a consumer function's middy chain. */
export function partialBatch<M>(
  consumer: SqsConsumer<M>,
  observability: { logger: Logger },
): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
  const logger = observability.logger;
  return async (event, context) => {
    const record = async (r: SQSRecord): Promise<void> => {
      const log = logger.child({ messageId: r.messageId });
      const message = parseMessage(r, consumer.schema, log, consumer.malformedMessage);
      if (message === undefined) {
        consumer.rejectMalformed?.();
        throw new RecordFailedError("malformed message");
      }
      let done: boolean;
      try {
        done = await consumer.consume(message, r, () => context.getRemainingTimeInMillis());
      } catch (err) {
        // Reported failed on its own: throwing out of the batch would send every record back, finished ones too.
        log.error("Message handling failed; the message will be received again", { err });
        throw err;
      }
      if (!done) throw new RecordFailedError("the consumer reported the record failed");
    };
    // A processor per invocation: it holds the batch's state, and the sandbox runs invocations concurrently.
    const response = await processPartialResponse(event, record, new BatchProcessor(EventType.SQS), {
      context,
      processInParallel: !consumer.oneAtATime,
      // A batch whose every record failed is answered like any other: all its records reported, none lost.
      throwOnFullBatchFailure: false,
    });
    // Record order, whatever order they finished in; a copy, never Powertools' shared default response.
    const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
    return {
      batchItemFailures: event.Records.filter((r) => failed.has(r.messageId)).map((r) => ({
        itemIdentifier: r.messageId,
      })),
    };
  };
}
