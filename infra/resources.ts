import type { CreateTableCommandInput } from "@aws-sdk/client-dynamodb";

// The data resources' shape, shared by the sandbox, the tests and the CDK stack so they cannot drift.

export const resourceNames = {
  table: "image-jobs",
  bucket: "image-jobs-images",
  jobsQueue: "image-jobs",
  jobsDlq: "image-jobs-dlq",
} as const;

export const tableKeys = { partitionKey: "pk", sortKey: "sk", ttl: "ttl" } as const;

export function tableDefinition(name: string): CreateTableCommandInput {
  return {
    TableName: name,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [
      { AttributeName: tableKeys.partitionKey, AttributeType: "S" },
      { AttributeName: tableKeys.sortKey, AttributeType: "S" },
    ],
    KeySchema: [
      { AttributeName: tableKeys.partitionKey, KeyType: "HASH" },
      { AttributeName: tableKeys.sortKey, KeyType: "RANGE" },
    ],
  };
}

/** Receives beyond the worker's own attempts go to the DLQ: room for a failed "mark failed" write. */
export const dlqAfterReceives = (maxAttempts: number) => maxAttempts + 2;
