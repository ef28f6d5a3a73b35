import { createHash } from "node:crypto";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand, SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import type { SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqsPoller } from "../../infra/sandbox/poller.ts";
import { createLogger } from "../../lib/logging.ts";
import { ImageStore } from "../../lib/storage/images.ts";
import { startTestStack, type TestStack } from "../support/emulators.ts";

// The sandbox's stand-in for Lambda's SQS event source mapping, and how images reach S3, on the real emulators.

let stack: TestStack;
const logger = createLogger({ level: "silent", format: "json", service: "test" });

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack.emulators.stop();
});

async function queueDepth() {
  const res = await stack.emulators.clients.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: stack.resources.jobsQueueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return (
    Number(res.Attributes?.ApproximateNumberOfMessages) +
    Number(res.Attributes?.ApproximateNumberOfMessagesNotVisible)
  );
}

describe("sandbox SQS poller", () => {
  it("runs at most `concurrency` invocations at once, delivers every message once and deletes what succeeded", async () => {
    const bodies = Array.from({ length: 7 }, (_, i) => `m${i}`);
    const seen: string[] = [];
    let running = 0;
    let peak = 0;
    const held: (() => void)[] = [];
    let resolveAllSeen = () => {};
    const allSeen = new Promise<void>((resolve) => {
      resolveAllSeen = resolve;
    });
    const poller = new SqsPoller({
      sqs: stack.emulators.clients.sqs,
      queueUrl: stack.resources.jobsQueueUrl,
      queueArn: "arn:aws:sqs:us-east-1:000000000000:jobs",
      functionName: "worker",
      batchSize: 1,
      concurrency: 2,
      functionTimeoutMs: 30_000,
      logger,
      handler: async (event: SQSEvent) => {
        running++;
        peak = Math.max(peak, running);
        seen.push(...event.Records.map((r) => r.body));
        if (seen.length === bodies.length) resolveAllSeen();
        // Each invocation stays busy until the next one starts or the test releases it.
        await new Promise<void>((resolve) => {
          held.push(resolve);
          if (held.length > 1) held.shift()?.();
        });
        running--;
        return { batchItemFailures: [] };
      },
    });
    await stack.emulators.clients.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: stack.resources.jobsQueueUrl,
        Entries: bodies.map((b, i) => ({ Id: String(i), MessageBody: b })),
      }),
    );
    poller.start();
    await allSeen;
    for (const release of held.splice(0)) release();
    await poller.stop();
    expect(seen.sort()).toEqual(bodies);
    expect(peak).toBe(2);
    expect(await queueDepth()).toBe(0);
  });
});

describe("ImageStore.put", () => {
  it("stores the image with the caller's SHA-256 as the object's checksum and metadata", async () => {
    const images = new ImageStore(stack.emulators.clients.s3, stack.names.bucket, 60);
    const body = Buffer.from("not really a png, but bytes are bytes");
    const sha256 = createHash("sha256").update(body).digest("hex");
    await images.put("checksum/a.png", body, "png", sha256);
    const head = await stack.emulators.clients.s3.send(
      new HeadObjectCommand({ Bucket: stack.names.bucket, Key: "checksum/a.png", ChecksumMode: "ENABLED" }),
    );
    expect(head.ChecksumSHA256).toBe(Buffer.from(sha256, "hex").toString("base64"));
    expect(head.Metadata?.sha256).toBe(sha256);
    expect((await images.get("checksum/a.png")).equals(body)).toBe(true);
  });
});
