import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceNotFoundException,
} from "@aws-sdk/client-dynamodb";
import { CreateBucketCommand, HeadBucketCommand, S3Client } from "@aws-sdk/client-s3";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import dynalite from "dynalite";
import { startFauxqs } from "fauxqs";
import { dlqAfterReceives, tableDefinition } from "../resources.ts";

export const sandboxCredentials = { accessKeyId: "sandbox", secretAccessKey: "sandbox" };
export const sandboxRegion = "us-east-1";

export interface Emulators {
  /** S3 and SQS (fauxqs). */
  awsEndpoint: string;
  /** DynamoDB (dynalite). */
  dynamoEndpoint: string;
  clients: { s3: S3Client; sqs: SQSClient; dynamodb: DynamoDBClient };
  stop(): Promise<void>;
}

/** fauxqs for S3 and SQS, dynalite for DynamoDB, in this process. With `dataDir`, state survives restarts. */
export async function startEmulators(options: {
  host: string;
  awsPort: number;
  dynamoPort: number;
  dataDir?: string | undefined;
}): Promise<Emulators> {
  const fauxqs = await startFauxqs({
    port: options.awsPort,
    host: options.host,
    logger: false,
    defaultRegion: sandboxRegion,
    ...(options.dataDir && {
      dataDir: join(options.dataDir, "sqs"),
      s3StorageDir: join(options.dataDir, "s3"),
    }),
  });
  const dynamo = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.dataDir && { path: join(options.dataDir, "dynamodb") }),
  });
  dynamo.listen(options.dynamoPort, options.host);
  await once(dynamo, "listening");
  const connected = connectEmulators({
    awsEndpoint: `http://${options.host}:${fauxqs.port}`,
    dynamoEndpoint: `http://${options.host}:${(dynamo.address() as AddressInfo).port}`,
  });
  return {
    ...connected,
    async stop() {
      await connected.stop();
      await fauxqs.stop();
      await new Promise<void>((resolve) => dynamo.close(() => resolve()));
    },
  };
}

/** Clients for emulators running elsewhere (another process); stop() only closes the clients. */
export function connectEmulators(endpoints: { awsEndpoint: string; dynamoEndpoint: string }): Emulators {
  const { awsEndpoint, dynamoEndpoint } = endpoints;
  const base = { region: sandboxRegion, credentials: sandboxCredentials };
  const clients = {
    s3: new S3Client({ ...base, endpoint: awsEndpoint, forcePathStyle: true }),
    sqs: new SQSClient({ ...base, endpoint: awsEndpoint }),
    dynamodb: new DynamoDBClient({ ...base, endpoint: dynamoEndpoint }),
  };
  return {
    awsEndpoint,
    dynamoEndpoint,
    clients,
    async stop() {
      for (const c of Object.values(clients)) c.destroy();
    },
  };
}

export interface ResourceSpec {
  table: string;
  bucket: string;
  jobsQueue: string;
  jobsDlq: string;
  visibilityTimeoutSeconds: number;
  maxAttempts: number;
}

export interface Resources {
  jobsQueueUrl: string;
  jobsDlqUrl: string;
}

/** Creates the table, bucket and queues if they are missing; safe to run on every start. */
export async function ensureResources(clients: Emulators["clients"], spec: ResourceSpec): Promise<Resources> {
  const { dynamodb, s3, sqs } = clients;
  try {
    await dynamodb.send(new DescribeTableCommand({ TableName: spec.table }));
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException)) throw err;
    await dynamodb.send(new CreateTableCommand(tableDefinition(spec.table)));
  }
  try {
    await s3.send(new HeadBucketCommand({ Bucket: spec.bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: spec.bucket }));
  }
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: spec.jobsDlq }));
  const dlqUrl = dlq.QueueUrl as string;
  const dlqArn = (
    await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ["QueueArn"] }))
  ).Attributes?.QueueArn as string;
  const attributes = {
    VisibilityTimeout: String(spec.visibilityTimeoutSeconds),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: dlqArn,
      maxReceiveCount: dlqAfterReceives(spec.maxAttempts),
    }),
  };
  const jobs = await sqs.send(new CreateQueueCommand({ QueueName: spec.jobsQueue }));
  const jobsUrl = jobs.QueueUrl as string;
  // CreateQueue refuses changed attributes on an existing queue; set them explicitly instead.
  await sqs.send(new SetQueueAttributesCommand({ QueueUrl: jobsUrl, Attributes: attributes }));
  return { jobsQueueUrl: jobsUrl, jobsDlqUrl: dlqUrl };
}
