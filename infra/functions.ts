import type { Table } from "aws-cdk-lib/aws-dynamodb";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import type { Bucket } from "aws-cdk-lib/aws-s3";
import type { ISecret } from "aws-cdk-lib/aws-secretsmanager";
import type { Queue } from "aws-cdk-lib/aws-sqs";
import { bucketPrefixes, dlqAfterReceives, inboxDlqAfterReceives } from "./resources.ts";
import { httpApiIntegrationSeconds, type StackSettings } from "./settings.ts";

// Every Lambda function of the service, as data. Adding one is one entry here (and its handler in functions/).
// A function whose entry file does not exist yet is skipped with a warning, so the stack synthesizes while
// functions are still being written. Job events (success, failure, cancel) come from the API, the worker and
// the dead-letter consumer, so those may send to the webhook queue.

export type QueueName = "jobs" | "webhooks" | "inbox";

/** What functions may be granted access to. */
export interface DataResources {
  table: Table;
  bucket: Bucket;
  queues: Record<QueueName, Queue>;
  deadLetterQueues: Record<QueueName, Queue>;
  providerKey: ISecret;
}

export interface QueueTrigger {
  /** A work queue, or the dead-letter queue of one. */
  queue: QueueName | `${QueueName}Dlq`;
  batchSize: number;
  /** Concurrent invocations at most (Lambda's minimum is 2). */
  maxConcurrency?: number;
}

export interface FunctionSpec {
  /** Construct id; also the `service` in its logs and metrics. */
  id: string;
  /** Handler module, from the project root. */
  entry: string;
  memoryMb: number;
  timeoutSeconds: number;
  /** Minified bundle ceiling (AWS SDK external); test/infra/bundles.test.ts fails past it. */
  bundleBudgetKiB: number;
  description: string;
  /** Reads the provider key from Secrets Manager at cold start. */
  providerKey?: boolean;
  trigger?: QueueTrigger;
  /** Front door: "api" behind the HTTP API, "url" behind a Function URL. */
  http?: "api" | "url";
  environment?: Record<string, string>;
  /** Ships the built web playground (web/dist, infra/web.ts) beside the bundle, as `playground/`. */
  playground?: boolean;
  /** Least privilege: grant methods on exactly the resources and key prefixes the function touches. */
  grant(fn: IFunction, r: DataResources): void;
}

/** Where the playground's files sit in a function's code. */
export const playgroundDirName = "playground";

const tableActions = {
  read: ["dynamodb:GetItem", "dynamodb:Query"],
  write: ["dynamodb:PutItem", "dynamodb:UpdateItem"],
};

/** The API serves both front doors; they differ only in how long a synchronous request may wait. */
function apiSpec(
  id: string,
  http: "api" | "url",
  syncWaitSeconds: number,
  timeoutSeconds: number,
): FunctionSpec {
  return {
    id,
    entry: "functions/api.ts",
    // CPU scales with memory: JSON and base64 of several large images per response.
    memoryMb: 1024,
    timeoutSeconds,
    // 285.3 KiB with trust (admin keys, limits, usage); 164 KiB once Powertools Tracer and the X-Ray SDK left
    // the API (lib/tracing.ts) and sharp became a lazy import; 174.3 KiB with the OpenAPI reference and the
    // playground route. The ceiling is 250 KiB.
    bundleBudgetKiB: 185,
    description: "OpenAI-compatible HTTP API: validates, records and enqueues jobs; answers with images",
    providerKey: true,
    http,
    playground: true,
    environment: {
      SYNC_WAIT_MS: String(syncWaitSeconds * 1000),
      // Lambda unpacks the code into /var/task; the stack copies web/dist there (infra/stack.ts).
      PLAYGROUND_DIR: `/var/task/${playgroundDirName}`,
    },
    grant(fn, r) {
      r.table.grant(fn, ...tableActions.read, ...tableActions.write);
      r.queues.jobs.grantSendMessages(fn);
      r.queues.webhooks.grantSendMessages(fn);
      // Reads outputs (b64_json answers; presigned GETs are signed with this role) and stores uploaded inputs.
      r.bucket.grantRead(fn, `${bucketPrefixes.outputs}*`);
      r.bucket.grantPut(fn, `${bucketPrefixes.sources}*`);
      // Idempotency records spill large responses to tenants/{tenant}/idempotency/ (read back under outputs' grant).
      r.bucket.grantPut(fn, `${bucketPrefixes.outputs}*/idempotency/*`);
      r.providerKey.grantRead(fn);
    },
  };
}

export function functionSpecs(s: StackSettings): FunctionSpec[] {
  const specs: FunctionSpec[] = [
    // The HTTP API's integration ends at 30 s: the function stops just before it, the wait well before that.
    apiSpec("Api", "api", s.syncWaitSeconds, httpApiIntegrationSeconds - 1),
    {
      id: "Worker",
      entry: "functions/worker.ts",
      // sharp re-encodes up to ten large images per job; memory also buys CPU.
      memoryMb: s.workerMemoryMb,
      timeoutSeconds: s.workerTimeoutSeconds,
      // The openai SDK is most of it (about 390 KiB), Powertools Tracer with the X-Ray SDK 125 KiB; 643 KiB.
      bundleBudgetKiB: 650,
      description: "Runs jobs: calls the provider, stores the images in S3, records the outcome",
      providerKey: true,
      trigger: { queue: "jobs", batchSize: s.workerBatchSize, maxConcurrency: s.workerMaxConcurrency },
      environment: {
        WORKER_TIMEOUT_MS: String(s.workerTimeoutSeconds * 1000),
        PROVIDER_TIMEOUT_MS: String(s.providerTimeoutSeconds * 1000),
        PROVIDER_MAX_RETRIES: String(s.providerMaxRetries),
      },
      grant(fn, r) {
        r.table.grant(fn, "dynamodb:GetItem", "dynamodb:UpdateItem");
        // Backoff: the runner delays a retried message with ChangeMessageVisibility.
        r.queues.jobs.grant(fn, "sqs:ChangeMessageVisibility");
        r.queues.webhooks.grantSendMessages(fn);
        r.bucket.grantPut(fn, `${bucketPrefixes.outputs}*`);
        // A result that lands after its job was canceled is deleted.
        r.bucket.grantDelete(fn, `${bucketPrefixes.outputs}*`);
        r.bucket.grantRead(fn, `${bucketPrefixes.sources}*`);
        r.providerKey.grantRead(fn);
      },
    },
    {
      id: "DeadLetters",
      entry: "functions/dlq.ts",
      memoryMb: 256,
      timeoutSeconds: 30,
      // 209.5 KiB, Powertools Tracer 125 KiB of it.
      bundleBudgetKiB: 220,
      description: "Fails the job of each message that reached the jobs DLQ (retries_exhausted)",
      trigger: { queue: "jobsDlq", batchSize: 10, maxConcurrency: 2 },
      grant(fn, r) {
        r.table.grant(fn, "dynamodb:GetItem", "dynamodb:UpdateItem");
        r.queues.webhooks.grantSendMessages(fn);
      },
    },
    {
      id: "Webhooks",
      entry: "functions/webhooks.ts",
      memoryMb: 256,
      timeoutSeconds: 30,
      // 225.6 KiB, Powertools Tracer 125 KiB of it; no sharp (content types come from lib/images/types.ts).
      bundleBudgetKiB: 240,
      description: "Delivers signed webhooks for job events, retrying with backoff",
      trigger: { queue: "webhooks", batchSize: 10, maxConcurrency: 10 },
      grant(fn, r) {
        r.table.grant(fn, ...tableActions.read, ...tableActions.write);
        r.queues.webhooks.grant(fn, "sqs:ChangeMessageVisibility");
        // A retry is a new, delayed message; the payload's image URLs are presigned with this role.
        r.queues.webhooks.grantSendMessages(fn);
        r.bucket.grantRead(fn, `${bucketPrefixes.outputs}*`);
      },
    },
    {
      id: "Inbox",
      entry: "functions/inbox.ts",
      // Decodes and re-encodes each uploaded image (sharp); memory also buys CPU.
      memoryMb: 1024,
      timeoutSeconds: 60,
      // 266.5 KiB, Powertools Tracer 125 KiB of it.
      bundleBudgetKiB: 280,
      description: "Turns images uploaded under inbox/{tenant}/ into variation jobs (S3 event notifications)",
      // Jobs are routed by provider name, as the API does: the key says which providers are enabled.
      providerKey: true,
      // Records one at a time (each may be a large image): a small batch stays well inside the timeout.
      trigger: { queue: "inbox", batchSize: 5, maxConcurrency: 5 },
      grant(fn, r) {
        // Keys (Query), jobs (Get/Put), limits (Get/Put/Update).
        r.table.grant(fn, ...tableActions.read, ...tableActions.write);
        r.queues.jobs.grantSendMessages(fn);
        // A job that fails at intake notifies its webhook at once.
        r.queues.webhooks.grantSendMessages(fn);
        // Reads the upload; never deletes it (see README): the lifecycle rule expires inbox/ objects.
        r.bucket.grantRead(fn, `${bucketPrefixes.inbox}*`);
        r.bucket.grantPut(fn, `${bucketPrefixes.sources}*`);
        r.providerKey.grantRead(fn);
      },
    },
  ];
  if (s.functionUrl) {
    // Long synchronous waits, past API Gateway's 30 s; see the README's trade-offs.
    specs.push(
      apiSpec("ApiLongWait", "url", s.functionUrlSyncWaitSeconds, s.functionUrlSyncWaitSeconds + 30),
    );
  }
  return specs;
}

/**
 * Each queue's delivery policy. Lambda's guidance: a visibility timeout of at least six times the consuming
 * function's timeout, so a message is not redelivered while a batch (with retries) is still running.
 */
export function queuePolicies(s: StackSettings, specs: readonly FunctionSpec[]) {
  const timeoutOf = (queue: QueueTrigger["queue"], fallback: number) =>
    specs.find((f) => f.trigger?.queue === queue)?.timeoutSeconds ?? fallback;
  return {
    jobs: {
      visibilitySeconds: 6 * timeoutOf("jobs", s.workerTimeoutSeconds),
      maxReceiveCount: dlqAfterReceives(s.jobMaxAttempts),
    },
    webhooks: { visibilitySeconds: 6 * timeoutOf("webhooks", 30), maxReceiveCount: 10 },
    inbox: { visibilitySeconds: 6 * timeoutOf("inbox", 60), maxReceiveCount: inboxDlqAfterReceives },
    dlq: (queue: QueueName) => ({ visibilitySeconds: 6 * timeoutOf(`${queue}Dlq`, 30) }),
  };
}
