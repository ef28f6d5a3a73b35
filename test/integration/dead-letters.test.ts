import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import type { SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqsPoller } from "../../infra/sandbox/poller.ts";
import type { GenerateInput } from "../../lib/jobs/model.ts";
import type { JobService } from "../../lib/jobs/service.ts";
import { JobStore } from "../../lib/jobs/store.ts";
import { createLogger } from "../../lib/logging.ts";
import type { MetricName, Metrics } from "../../lib/metrics.ts";
import { startTestStack, type TestStack } from "../support/emulators.ts";
import { apiFunction, deadLettersFunction, quietObservability } from "../support/functions.ts";

// "A message that reaches a DLQ marks its job failed": against the emulators, with SQS's own redrive.

const silent = createLogger({ level: "silent", format: "pretty", service: "test" });
const input: GenerateInput = {
  prompt: "a lost job",
  model: "gpt-image-2",
  n: 1,
  size: "1024x1024",
  output_format: "png",
  response_format: "url",
};

function recorder() {
  const records: [MetricName, number][] = [];
  const metrics: Metrics = { record: (name, value) => records.push([name, value]) };
  return { records, metrics };
}

const record = (body: string, id = "m-1"): SQSEvent["Records"][number] => ({
  messageId: id,
  receiptHandle: `rh-${id}`,
  body,
  attributes: {
    ApproximateReceiveCount: "6",
    SentTimestamp: "0",
    SenderId: "test",
    ApproximateFirstReceiveTimestamp: "0",
  },
  messageAttributes: {},
  md5OfBody: "",
  eventSource: "aws:sqs",
  eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:jobs-dlq",
  awsRegion: "us-east-1",
});

describe("the jobs DLQ consumer", () => {
  let stack: TestStack;
  /** The DLQ function as Lambda runs it, its metrics recorded by `metrics`. */
  const dlq = (metrics?: Metrics, env: Record<string, string> = {}) =>
    deadLettersFunction(stack.config(env), stack.emulators.clients, {
      observability: quietObservability(metrics),
    });
  let store: JobStore;
  let jobs: JobService;
  const maxAttempts = 1;

  beforeAll(async () => {
    stack = await startTestStack({ maxAttempts, visibilityTimeoutSeconds: 30 });
    store = new JobStore(stack.emulators.clients.dynamodb, stack.names.table);
    jobs = apiFunction(stack.config(), stack.emulators.clients, { observability: quietObservability() }).jobs;
  });
  afterAll(async () => {
    await stack?.emulators.stop();
  });

  it("fails a job whose message SQS moved to the DLQ after its worker crashed on every receive", async () => {
    const { sqs } = stack.emulators.clients;
    const job = await jobs.submit({
      principal: { tenant: "acme", keyId: "test", limits: {} },
      work: { operation: "generate", input },
      provider: "placeholder",
    });
    // A worker that dies mid-batch never deletes its message. Each receive counts; with the visibility made 0
    // the message is back at once, until the queue's redrive policy moves it to the DLQ.
    let receives = 0;
    for (;;) {
      const res = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: stack.resources.jobsQueueUrl,
          MaxNumberOfMessages: 1,
          VisibilityTimeout: 0,
        }),
      );
      if (!res.Messages?.length) break;
      receives++;
      expect(receives).toBeLessThanOrEqual(10);
    }
    expect(receives).toBe(maxAttempts + 2);
    expect((await store.get("acme", job.id, true))?.status).toBe("queued");

    // The sandbox's event source mapping runs the real DLQ handler.
    const dlqArn = (
      await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: stack.resources.jobsDlqUrl, AttributeNames: ["QueueArn"] }),
      )
    ).Attributes?.QueueArn as string;
    const poller = new SqsPoller({
      sqs,
      queueUrl: stack.resources.jobsDlqUrl,
      queueArn: dlqArn,
      functionName: "dlq",
      handler: dlq().handler,
      batchSize: 10,
      concurrency: 1,
      functionTimeoutMs: 30_000,
      logger: silent,
    });
    poller.start();
    try {
      const failed = await jobs.waitForTerminal("acme", job.id, 10_000);
      expect(failed?.status).toBe("failed");
      expect(failed?.error).toEqual({
        type: "server_error",
        code: "retries_exhausted",
        message: "The job was abandoned after 0 attempts.",
      });
      expect(failed?.finished_at).toBeGreaterThanOrEqual(job.created_at);
    } finally {
      await poller.stop();
    }
    const left = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: stack.resources.jobsDlqUrl,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    expect(left.Attributes?.ApproximateNumberOfMessages).toBe("0");
    expect(left.Attributes?.ApproximateNumberOfMessagesNotVisible).toBe("0");
  });

  it("fails a running job whose worker died, naming its last error, and counts it", async () => {
    const job = await jobs.submit({
      principal: { tenant: "acme", keyId: "test", limits: {} },
      work: { operation: "generate", input },
      provider: "placeholder",
    });
    const now = Date.now();
    const claim = await store.claim(job, now, 1_000);
    expect(claim.claimed).toBe(true);
    if (!claim.claimed) return;
    await store.requeue(
      claim.job,
      { type: "server_error", code: "provider_unavailable", message: "Could not reach the provider." },
      now,
    );
    const requeued = await store.get("acme", job.id, true);
    if (!requeued) throw new Error("job vanished");
    await store.claim(requeued, now + 1, 1_000);
    const { records, metrics } = recorder();
    const res = await dlq(metrics).invoke({
      Records: [record(JSON.stringify({ v: 1, tenant: "acme", job_id: job.id }))],
    });
    expect(res.batchItemFailures).toEqual([]);
    const failed = await store.get("acme", job.id, true);
    expect(failed?.status).toBe("failed");
    expect(failed?.error?.code).toBe("retries_exhausted");
    expect(failed?.error?.message).toBe(
      "The job was abandoned after 2 attempts. Last error: Could not reach the provider.",
    );
    expect(records).toEqual([["JobsFailed", 1]]);
  });

  it("leaves a settled job as it is and lets its message go", async () => {
    const job = await jobs.submit({
      principal: { tenant: "acme", keyId: "test", limits: {} },
      work: { operation: "generate", input },
      provider: "placeholder",
    });
    const claim = await store.claim(job, Date.now(), 60_000);
    if (!claim.claimed) throw new Error("claim failed");
    await store.succeed(
      claim.job,
      { images: [], usage: { images: 0, provider_calls: 1, provider_ms: 5 }, provider: "placeholder" },
      Date.now(),
    );
    const { records, metrics } = recorder();
    const res = await dlq(metrics).invoke({
      Records: [
        record(JSON.stringify({ v: 1, tenant: "acme", job_id: job.id }), "settled"),
        record(JSON.stringify({ v: 1, tenant: "acme", job_id: "job_0000000000zzzzzzzzzzzzzzzz" }), "absent"),
      ],
    });
    expect(res.batchItemFailures).toEqual([]);
    expect((await store.get("acme", job.id, true))?.status).toBe("succeeded");
    expect(records).toEqual([]);
  });

  it("keeps a malformed message in the DLQ for an operator, and still settles the rest of the batch", async () => {
    const job = await jobs.submit({
      principal: { tenant: "acme", keyId: "test", limits: {} },
      work: { operation: "generate", input },
      provider: "placeholder",
    });
    const res = await dlq().invoke({
      Records: [
        record("not json", "garbage"),
        record(JSON.stringify({ v: 2, job: "x" }), "wrong-shape"),
        record(JSON.stringify({ v: 1, tenant: "acme", job_id: job.id }), "good"),
      ],
    });
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: "garbage" }, { itemIdentifier: "wrong-shape" }]);
    expect((await store.get("acme", job.id, true))?.status).toBe("failed");
  });

  it("reports a record as failed when the store cannot be written, so it is retried", async () => {
    const job = await jobs.submit({
      principal: { tenant: "acme", keyId: "test", limits: {} },
      work: { operation: "generate", input },
      provider: "placeholder",
    });
    const res = await dlq(undefined, { JOBS_TABLE: "no-such-table" }).invoke({
      Records: [record(JSON.stringify({ v: 1, tenant: "acme", job_id: job.id }), "retry-me")],
    });
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: "retry-me" }]);
    expect((await store.get("acme", job.id, true))?.status).toBe("queued");
  });

  it("runs as the Lambda handler on a batch received from the DLQ", async () => {
    const job = await jobs.submit({
      principal: { tenant: "acme", keyId: "test", limits: {} },
      work: { operation: "generate", input },
      provider: "placeholder",
    });
    await stack.emulators.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: stack.resources.jobsDlqUrl,
        MessageBody: JSON.stringify({ v: 1, tenant: "acme", job_id: job.id }),
      }),
    );
    const res = await stack.emulators.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: stack.resources.jobsDlqUrl, MaxNumberOfMessages: 10 }),
    );
    const event: SQSEvent = {
      Records: (res.Messages ?? []).map((m) => record(m.Body ?? "", m.MessageId ?? "")),
    };
    expect(event.Records).toHaveLength(1);
    await expect(dlq().invoke(event)).resolves.toEqual({ batchItemFailures: [] });
    expect((await store.get("acme", job.id, true))?.status).toBe("failed");
  });
});
