import type { SQSEvent, SQSRecord } from "aws-lambda";
import { describe, expect, it } from "vitest";
import * as z from "zod/mini";
import { lambdaContext } from "../../infra/sandbox/lambda.ts";
import { loadConfig } from "../../lib/config.ts";
import { createLogger, type Logger } from "../../lib/logging.ts";
import type { Metrics } from "../../lib/metrics.ts";
import { partialBatch } from "../../lib/middleware/batch.ts";
import { bodyExcerptChars, parseMessage, receiveCount, type SqsConsumer } from "../../lib/queue/messages.ts";
import {
  createClients,
  createDeadLetters,
  createInbox,
  createWebhooks,
  createWorker,
  type FunctionFactory,
} from "../../lib/runtime.ts";
import { quietObservability } from "../support/functions.ts";

const record = (messageId: string, body: string, receives = "1"): SQSRecord =>
  ({
    messageId,
    receiptHandle: `rh-${messageId}`,
    body,
    attributes: { ApproximateReceiveCount: receives },
  }) as unknown as SQSRecord;

function capture() {
  const lines: string[] = [];
  const logger = createLogger({
    level: "error",
    format: "json",
    service: "test",
    write: (l) => lines.push(l),
  });
  return { lines, logger };
}

/** Hands a batch to a consumer as its function's chain does (lib/middleware/batch.ts), logging to `logger`. */
const consume = <M>(consumer: SqsConsumer<M>, event: SQSEvent, logger: Logger) =>
  partialBatch(consumer, { logger })(event, lambdaContext("test", 60_000));

/** A consumer of any JSON, which `consume` decides the outcome of. */
function consumer(
  consume: (record: SQSRecord) => Promise<boolean>,
  oneAtATime = false,
): SqsConsumer<unknown> {
  return {
    schema: z.unknown(),
    malformedMessage: "Malformed",
    oneAtATime,
    consume: (_message, record) => consume(record),
  };
}

describe("SQS messages", () => {
  const schema = z.object({ job_id: z.string() });

  it("parses a well-formed body, and logs and refuses one that is not JSON or not of the shape", () => {
    const { lines, logger } = capture();
    expect(parseMessage(record("a", '{"job_id":"j1"}'), schema, logger, "Bad")).toEqual({ job_id: "j1" });
    expect(lines).toEqual([]);

    const long = `{not json ${"x".repeat(1_000)}`;
    expect(parseMessage(record("b", long), schema, logger, "Bad one")).toBeUndefined();
    expect(parseMessage(record("c", '{"job_id":7}'), schema, logger, "Bad two")).toBeUndefined();
    const logged = lines.map((l) => JSON.parse(l));
    expect(logged.map((l) => [l.message, l.level])).toEqual([
      ["Bad one", "ERROR"],
      ["Bad two", "ERROR"],
    ]);
    // The start of the body, to recognise it by; never the whole payload.
    expect(logged[0].body).toBe(long.slice(0, bodyExcerptChars));
    expect(logged[1].body).toBe('{"job_id":7}');
  });

  it("reads the receive count, 1 when SQS leaves it out", () => {
    expect(receiveCount(record("a", "", "3"))).toBe(3);
    expect(receiveCount({ ...record("a", ""), attributes: {} } as unknown as SQSRecord)).toBe(1);
  });

  it("reports exactly the records not done, in parallel or one at a time", async () => {
    const event = { Records: ["ok-1", "fail-1", "ok-2", "fail-2"].map((id) => record(id, "{}")) };
    const { logger } = capture();
    for (const oneAtATime of [false, true]) {
      let running = 0;
      let most = 0;
      const result = await consume(
        consumer(async (r) => {
          most = Math.max(most, ++running);
          await new Promise((resolve) => setImmediate(resolve));
          running--;
          return r.messageId.startsWith("ok");
        }, oneAtATime),
        event,
        logger,
      );
      expect(result).toEqual({
        batchItemFailures: [{ itemIdentifier: "fail-1" }, { itemIdentifier: "fail-2" }],
      });
      expect(most).toBe(oneAtATime ? 1 : 4);
    }
    expect(
      await consume(
        consumer(async () => false),
        { Records: [] },
        logger,
      ),
    ).toEqual({
      batchItemFailures: [],
    });
    // Every record failed: reported one by one, as any other batch, never thrown as a whole.
    expect(
      await consume(
        consumer(async () => false),
        event,
        logger,
      ),
    ).toEqual({
      batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })),
    });
  });

  it("reports a record whose handling throws as failed on its own, and logs it, so the rest are not redelivered", async () => {
    const event = { Records: ["ok-1", "boom", "ok-2"].map((id) => record(id, "{}")) };
    for (const oneAtATime of [false, true]) {
      const { lines, logger } = capture();
      const result = await consume(
        consumer(async (r) => {
          if (r.messageId === "boom") throw new Error("DynamoDB is unavailable");
          return true;
        }, oneAtATime),
        event,
        logger,
      );
      expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: "boom" }] });
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0] as string)).toMatchObject({ messageId: "boom", level: "ERROR" });
    }
  });
});

describe("every SQS consumer reports a malformed message failed, never swallows it", () => {
  const bodies = ["{not json", '{"unexpected":"shape"}', "", "null"];
  const event = (): SQSEvent => ({ Records: bodies.map((b, i) => record(`m-${i}`, b)) });
  const allFailed = { batchItemFailures: bodies.map((_, i) => ({ itemIdentifier: `m-${i}` })) };
  const config = loadConfig({
    AWS_REGION: "us-east-1",
    JOBS_TABLE: "jobs",
    IMAGES_BUCKET: "images",
    JOBS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/jobs",
    WEBHOOKS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/jobs-webhooks",
  });

  /** The function as the composition root makes it, on clients a malformed message must never reach. */
  function made<R>(factory: FunctionFactory<R>, logger: Logger, metrics?: Metrics): R {
    const clients = createClients(config);
    for (const client of Object.values(clients)) {
      client.middlewareStack.add(
        () => async () => {
          throw new Error("An AWS client was used for a malformed message");
        },
        { step: "initialize", name: "untouchable" },
      );
    }
    return factory(config, clients, { observability: { ...quietObservability(metrics), logger } });
  }

  it("the worker", async () => {
    const { lines, logger } = capture();
    const { runner } = made(createWorker, logger);
    expect(await consume(runner, event(), logger)).toEqual(allFailed);
    expect(messages(lines)).toEqual(bodies.map(() => "Malformed job message"));
  });

  it("the webhooks deliverer", async () => {
    const { lines, logger } = capture();
    const { deliverer } = made(createWebhooks, logger);
    expect(await consume(deliverer, event(), logger)).toEqual(allFailed);
    expect(messages(lines)).toEqual(bodies.map(() => "Malformed webhook message"));
  });

  it("the jobs DLQ consumer", async () => {
    const { lines, logger } = capture();
    const { deadLetters } = made(createDeadLetters, logger);
    expect(await consume(deadLetters, event(), logger)).toEqual(allFailed);
    expect(messages(lines)).toEqual(
      bodies.map(() => "Malformed message in the jobs DLQ; left there for an operator"),
    );
  });

  it("the inbox, which also counts each as rejected", async () => {
    const { lines, logger } = capture();
    const recorded: string[] = [];
    const { inbox } = made(createInbox, logger, { record: (name) => void recorded.push(name) });
    expect(await consume(inbox, event(), logger)).toEqual(allFailed);
    expect(messages(lines)).toEqual(bodies.map(() => "Inbox message is not an S3 event notification"));
    expect(recorded).toEqual(bodies.map(() => "InboxRejected"));
  });
});

const messages = (lines: string[]) => lines.map((l) => (JSON.parse(l) as { message: string }).message);
