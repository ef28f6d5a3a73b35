import { GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { measureAwsCalls } from "../../bench/sections/aws-calls.ts";
import { AwsCallCounter } from "../../lib/aws-calls.ts";
import { createClients } from "../../lib/runtime.ts";
import { credentials, startTestStack, type TestStack } from "../support/emulators.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../support/fake-openai.ts";

// The bench's AWS calls per job (issue 16 §5): the counter sees every call a client sends, with the DynamoDB
// capacity it consumed, and not the presigned URLs it only signs; a generate job stays within the budget of 12.

let stack: TestStack;
let fake: FakeOpenAI;

beforeAll(async () => {
  stack = await startTestStack();
  fake = await startFakeOpenAI({ latencyMs: 0 });
});
afterAll(async () => {
  await stack.emulators.stop();
  await fake.close();
});

describe("AWS call counter", () => {
  it("counts sent calls by service and operation, with DynamoDB's capacity units, and not presigned URLs", async () => {
    const counter = new AwsCallCounter();
    const c = createClients(stack.config(), { credentials, counter });
    const Key = { pk: { S: "T#count" }, sk: { S: "J#1" } };
    await c.dynamodb.send(
      new PutItemCommand({ TableName: stack.names.table, Item: { ...Key, v: { S: "x" } } }),
    );
    await c.dynamodb.send(new GetItemCommand({ TableName: stack.names.table, Key, ConsistentRead: true }));
    await c.dynamodb.send(new GetItemCommand({ TableName: stack.names.table, Key }));
    await c.s3.send(new PutObjectCommand({ Bucket: stack.names.bucket, Key: "a.png", Body: "x" }));
    await getSignedUrl(c.s3, new GetObjectCommand({ Bucket: stack.names.bucket, Key: "a.png" }), {
      expiresIn: 60,
    });
    expect(counter.take()).toEqual({
      calls: { "DynamoDB.GetItem": 2, "DynamoDB.PutItem": 1, "S3.PutObject": 1 },
      // A consistent read of an item under 4 KB is 1 unit, an eventually consistent one half.
      capacityUnits: { "DynamoDB.GetItem": 1.5, "DynamoDB.PutItem": 1 },
    });
    expect(counter.take()).toEqual({ calls: {}, capacityUnits: {} });
  });

  it("a generate job with no webhook makes at most 12 AWS calls: submit, worker, one poll", async () => {
    const calls = await measureAwsCalls(fake, 2);
    expect(calls.total).toBeLessThanOrEqual(12);
    expect(calls.by_operation).toMatchObject({
      "SQS.SendMessage": 1,
      "S3.PutObject": 1,
      "DynamoDB.PutItem": 1,
    });
    expect(calls.total).toBe(Object.values(calls.by_operation).reduce((a, b) => a + b, 0));
    expect(calls.job_item_bytes).toBeGreaterThan(200);
  }, 30_000);
});
