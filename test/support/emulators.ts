import { randomUUID } from "node:crypto";
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import {
  type Emulators,
  ensureResources,
  type Resources,
  startEmulators,
} from "../../infra/sandbox/emulators.ts";
import { loadConfig, type ServiceConfig } from "../../lib/config.ts";

export { sandboxCredentials as credentials } from "../../infra/sandbox/emulators.ts";

export interface TestStack {
  emulators: Emulators;
  resources: Resources;
  names: {
    table: string;
    bucket: string;
    jobsQueue: string;
    jobsDlq: string;
    batchQueue: string;
    webhooksQueue: string;
    webhooksDlq: string;
    inboxQueue: string;
    inboxDlq: string;
  };
  /** Service configuration pointed at this stack; `overrides` are environment-style strings. */
  config(overrides?: Record<string, string>): ServiceConfig;
}

/** Real emulators on random ports, with fresh resources, for one test file. */
export async function startTestStack(
  options: { visibilityTimeoutSeconds?: number; maxAttempts?: number } = {},
) {
  const emulators = await startEmulators({ host: "127.0.0.1", awsPort: 0, dynamoPort: 0 });
  const suffix = randomUUID().slice(0, 8);
  const names = {
    table: `jobs-${suffix}`,
    bucket: `images-${suffix}`,
    jobsQueue: `jobs-${suffix}`,
    jobsDlq: `jobs-dlq-${suffix}`,
    batchQueue: `jobs-batch-${suffix}`,
    webhooksQueue: `webhooks-${suffix}`,
    webhooksDlq: `webhooks-dlq-${suffix}`,
    inboxQueue: `inbox-${suffix}`,
    inboxDlq: `inbox-dlq-${suffix}`,
  };
  const maxAttempts = options.maxAttempts ?? 3;
  const resources = await ensureResources(emulators.clients, {
    ...names,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 30,
    maxAttempts,
  });
  const stack: TestStack = {
    emulators,
    resources,
    names,
    config: (overrides = {}) =>
      loadConfig({
        AWS_REGION: "us-east-1",
        AWS_ENDPOINT_URL: emulators.awsEndpoint,
        AWS_ENDPOINT_URL_DYNAMODB: emulators.dynamoEndpoint,
        JOBS_TABLE: names.table,
        IMAGES_BUCKET: names.bucket,
        JOBS_QUEUE_URL: resources.jobsQueueUrl,
        WEBHOOKS_QUEUE_URL: resources.webhooksQueueUrl,
        JOB_MAX_ATTEMPTS: String(maxAttempts),
        LOG_LEVEL: "silent",
        // Set by vitest.config.ts: the functions record their AWS calls for test/infra/grants.test.ts.
        ...(process.env.AWS_CALL_LOG_DIR && { AWS_CALL_LOG_DIR: process.env.AWS_CALL_LOG_DIR }),
        ...overrides,
      }),
  };
  return stack;
}

/** Every key under `prefix`, through all pages of the listing. */
export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token && { ContinuationToken: token }),
      }),
    );
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}
