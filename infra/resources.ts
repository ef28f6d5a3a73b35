import type { CreateTableCommandInput } from "@aws-sdk/client-dynamodb";

// The data resources' shape, shared by the sandbox, the tests and the CDK stack so they cannot drift.

export const resourceNames = {
  table: "image-jobs",
  bucket: "image-jobs-images",
  jobsQueue: "image-jobs",
  jobsDlq: "image-jobs-dlq",
  webhooksQueue: "image-jobs-webhooks",
  webhooksDlq: "image-jobs-webhooks-dlq",
} as const;

export const tableKeys = { partitionKey: "pk", sortKey: "sk", ttl: "ttl" } as const;

export function tableDefinition(name: string): CreateTableCommandInput {
  return {
    TableName: name,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [
      { AttributeName: tableKeys.partitionKey, AttributeType: "S" },
      { AttributeName: tableKeys.sortKey, AttributeType: "S" },
      { AttributeName: "gsi1pk", AttributeType: "S" },
      { AttributeName: "gsi1sk", AttributeType: "S" },
    ],
    KeySchema: [
      { AttributeName: tableKeys.partitionKey, KeyType: "HASH" },
      { AttributeName: tableKeys.sortKey, KeyType: "RANGE" },
    ],
    // A tenant's jobs by status, newest first: gsi1pk = T#{tenant}#S#{status}, gsi1sk = J#{jobId}.
    GlobalSecondaryIndexes: [
      {
        IndexName: "gsi1",
        KeySchema: [
          { AttributeName: "gsi1pk", KeyType: "HASH" },
          { AttributeName: "gsi1sk", KeyType: "RANGE" },
        ],
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
