import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { connectEmulators, ensureResources, sandboxCredentials } from "../../infra/sandbox/emulators.ts";
import { toSqsRecord } from "../../infra/sandbox/poller.ts";
import { JobQueue } from "../../lib/jobs/queue.ts";
import { JobService } from "../../lib/jobs/service.ts";
import { JobStore } from "../../lib/jobs/store.ts";
import { createLogger } from "../../lib/logging.ts";
import { WebhookQueue } from "../../lib/webhooks/queue.ts";
import { newTag, tagPrompt } from "../client.ts";
import type { BenchContext } from "../context.ts";
import { providerKey, startChild } from "../harness.ts";
import { median } from "../stats.ts";
import { buildBundle } from "./bundles.ts";

// Worker memory: the worker's bundle (as deployed: see bundles.ts) alone in a fresh process
// (bench/children/worker-rss.ts) runs one job of
// n=10 at 1024×1024 (PNG, ≈1.7 MB each, one provider call answering 10 b64_json images) and reports its peak
// RSS, and its RSS after importing the handler, before the job. The job and its message live on a queue and
// table of their own in the bench's emulators, so the sandbox's poller never sees them.

const names = {
  table: "bench-rss-jobs",
  bucket: "bench-rss-images",
  jobsQueue: "bench-rss",
  jobsDlq: "bench-rss-dlq",
  webhooksQueue: "bench-rss-webhooks",
  webhooksDlq: "bench-rss-webhooks-dlq",
};

interface RssRun {
  idle_rss_mb: number;
  peak_rss_mb: number;
  ms: number;
  failures: unknown[];
}

export async function measureMemory(ctx: BenchContext) {
  const emulators = connectEmulators(ctx.sandbox.emulators);
  try {
    const resources = await ensureResources(emulators.clients, {
      ...names,
      visibilityTimeoutSeconds: 330,
      maxAttempts: 3,
    });
    const store = new JobStore(emulators.clients.dynamodb, names.table);
    const queue = new JobQueue(emulators.clients.sqs, resources.jobsQueueUrl);
    const jobs = new JobService(
      store,
      queue,
      createLogger({ level: "silent", format: "json", service: "bench" }),
      new WebhookQueue(emulators.clients.sqs, resources.webhooksQueueUrl),
    );
    const env = {
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: sandboxCredentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: sandboxCredentials.secretAccessKey,
      AWS_ENDPOINT_URL: ctx.sandbox.emulators.awsEndpoint,
      AWS_ENDPOINT_URL_DYNAMODB: ctx.sandbox.emulators.dynamoEndpoint,
      JOBS_TABLE: names.table,
      IMAGES_BUCKET: names.bucket,
      JOBS_QUEUE_URL: resources.jobsQueueUrl,
      WEBHOOKS_QUEUE_URL: resources.webhooksQueueUrl,
      OPENAI_API_KEY: providerKey,
      OPENAI_BASE_URL: ctx.provider.baseURL,
      LOG_LEVEL: "warn",
    };
    ctx.provider.setLatency(0);
    const bundle = await buildBundle("worker", "functions/worker.ts");
    const runs: RssRun[] = [];
    for (let r = 0; r < Math.max(3, Math.ceil(ctx.repeats / 2)); r++) {
      const job = await jobs.submit({
        principal: { tenant: "bench", keyId: "test", limits: {} },
        provider: "openai",
        work: {
          operation: "generate",
          input: {
            prompt: tagPrompt(newTag()),
            model: "gpt-image-2",
            n: 10,
            size: "1024x1024",
            output_format: "png",
            response_format: "url",
          },
        },
      });
      const received = await emulators.clients.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: resources.jobsQueueUrl,
          MaxNumberOfMessages: 1,
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: ["All"],
        }),
      );
      const message = received.Messages?.[0];
      if (!message) throw new Error("the memory job's message did not arrive");
      const event = { Records: [toSqsRecord(message, "arn:aws:sqs:us-east-1:000000000000:bench-rss")] };
      const child = await startChild<RssRun>("worker-rss.ts", [JSON.stringify(event), bundle], env);
      await child.stop();
      const done = await store.get("bench", job.id, true);
      if (
        child.ready.failures.length > 0 ||
        done?.status !== "succeeded" ||
        done.output?.images.length !== 10
      ) {
        throw new Error(
          `the memory job did not succeed with 10 images: ${JSON.stringify(done?.error ?? done?.status)}`,
        );
      }
      runs.push(child.ready);
    }
    const result = {
      idle_rss_mb: median(runs.map((r) => r.idle_rss_mb)),
      peak_rss_mb: median(runs.map((r) => r.peak_rss_mb)),
      job_ms: median(runs.map((r) => r.ms)),
    };
    ctx.log(
      `worker n=10: peak RSS ${result.peak_rss_mb.toFixed(0)} MB (after import ${result.idle_rss_mb.toFixed(0)} MB)`,
    );
    return result;
  } finally {
    await emulators.stop();
  }
}
