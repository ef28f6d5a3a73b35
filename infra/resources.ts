import type { CreateTableCommandInput } from "@aws-sdk/client-dynamodb";
import { inboxAttempts } from "../lib/inbox/retries.ts";
import { inboxPrefix, sourcesPrefix, statusIndex, uploadsPrefix } from "../lib/layout/keys.ts";

// The data resources' shape, shared by the sandbox, the tests and the CDK stack so they cannot drift.

export const resourceNames = {
  table: "image-jobs",
  bucket: "image-jobs-images",
  jobsQueue: "image-jobs",
  jobsDlq: "image-jobs-dlq",
  /** The batch lane (priority "batch"); its failures go to the jobs DLQ. */
  batchQueue: "image-jobs-batch",
  webhooksQueue: "image-jobs-webhooks",
  webhooksDlq: "image-jobs-webhooks-dlq",
  inboxQueue: "image-jobs-inbox",
  inboxDlq: "image-jobs-inbox-dlq",
} as const;

export const tableKeys = { partitionKey: "pk", sortKey: "sk", ttl: "ttl" } as const;

/**
 * Listing a tenant's jobs by status. Job items carry gsi1pk = `T#{tenant}#S#{status}` and gsi1sk = `J#{jobId}`
 * (rewritten on every status change); job ids are time-ordered, so a query with ScanIndexForward=false lists
 * newest first. Listing all of a tenant's jobs needs no index: pk = `T#{tenant}`, sk begins with `J#`.
 * Items without gsi1pk (API keys, idempotency records) stay out of the index.
 */
export const jobsByStatusIndex = { name: statusIndex, partitionKey: "gsi1pk", sortKey: "gsi1sk" } as const;

/** Key prefixes in the images bucket; lifecycle rules and IAM grants are scoped by them. */
export const bucketPrefixes = {
  /** Generated images: tenants/{tenant}/jobs/{jobId}/output-{i}.{ext} (lib/layout/keys.ts). */
  outputs: "tenants/",
  /** Images uploaded as operation inputs (edits, variations); they expire after the source retention. */
  sources: sourcesPrefix,
  /** Drop zone: an object created here becomes a job (S3 → inbox queue → inbox function); expires likewise. */
  inbox: inboxPrefix,
  /** Images PUT with presigned URLs of POST /v1/uploads, under uploads/{tenant}/; they expire after a day. */
  uploads: uploadsPrefix,
} as const;

export function tableDefinition(name: string): CreateTableCommandInput {
  return {
    TableName: name,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [
      { AttributeName: tableKeys.partitionKey, AttributeType: "S" },
      { AttributeName: tableKeys.sortKey, AttributeType: "S" },
      { AttributeName: jobsByStatusIndex.partitionKey, AttributeType: "S" },
      { AttributeName: jobsByStatusIndex.sortKey, AttributeType: "S" },
    ],
    KeySchema: [
      { AttributeName: tableKeys.partitionKey, KeyType: "HASH" },
      { AttributeName: tableKeys.sortKey, KeyType: "RANGE" },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: jobsByStatusIndex.name,
        KeySchema: [
          { AttributeName: jobsByStatusIndex.partitionKey, KeyType: "HASH" },
          { AttributeName: jobsByStatusIndex.sortKey, KeyType: "RANGE" },
        ],
        // A listing page answers from the index alone, with no read per job.
        Projection: { ProjectionType: "ALL" },
      },
    ],
  };
}

/** Receives beyond the worker's own attempts go to the DLQ: room for a failed "mark failed" write. */
export const dlqAfterReceives = (maxAttempts: number) => maxAttempts + 2;

/**
 * Webhook messages are normally received once per attempt (retries are new, delayed messages); extra receives
 * come from lease contention and failed writes. Past this many, something is broken: the DLQ keeps it.
 */
export const webhookDlqAfterReceives = 10;
/** Outlives one delivery (its HTTP timeout plus the writes around it), so a message is not handed out twice. */
export const webhookVisibilityTimeoutSeconds = 60;

/**
 * The inbox function retries a notification (the key's jobs all busy, a failed write) and, on its last attempt,
 * records a failed job instead; the DLQ keeps what even that could not handle.
 */
export const inboxDlqAfterReceives = inboxAttempts + 2;
/** The sandbox's inbox queue: a retried upload comes back after this. In AWS, six times the function's timeout. */
export const inboxVisibilityTimeoutSeconds = 30;
