import { lookup } from "node:dns/promises";
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
import { type MessageSpyReader, startFauxqs } from "fauxqs";
import {
  dlqAfterReceives,
  inboxDlqAfterReceives,
  inboxVisibilityTimeoutSeconds,
  tableDefinition,
  webhookDlqAfterReceives,
  webhookVisibilityTimeoutSeconds,
} from "../resources.ts";

export const sandboxCredentials = { accessKeyId: "sandbox", secretAccessKey: "sandbox" };
export const sandboxRegion = "us-east-1";
/** Above the largest MAX_IMAGE_BYTES (100 MiB) with room for headers. */
export const sandboxRequestBodyLimitBytes = 101 * 1024 * 1024;

export interface Emulators {
  /** S3 and SQS (fauxqs). */
  awsEndpoint: string;
  /** DynamoDB (dynalite). */
  dynamoEndpoint: string;
  clients: { s3: S3Client; sqs: SQSClient; dynamodb: DynamoDBClient };
  /** What happens inside fauxqs (uploads among it), when it runs in this process with `spy`. */
  spy?: MessageSpyReader;
  stop(): Promise<void>;
}

/** fauxqs for S3 and SQS, dynalite for DynamoDB, in this process. With `dataDir`, state survives restarts. */
export async function startEmulators(options: {
  host: string;
  awsPort: number;
  dynamoPort: number;
  dataDir?: string | undefined;
  /** Watch uploads in-process (the sandbox forwards inbox/ uploads as S3 event notifications). */
  spy?: boolean;
}): Promise<Emulators> {
  const fauxqs = await startFauxqs({
    // Large enough that a burst of SQS traffic cannot push an upload out before the watcher reads it.
    ...(options.spy && { messageSpies: { bufferSize: 2000 } }),
    port: options.awsPort,
    // `host` names fauxqs's queue URLs; `listenHost` (patches/fauxqs+2.4.1.patch) is where it listens.
    host: options.host,
    listenHost: options.host,
    // S3 takes a single PUT of up to 5 GB; fauxqs refuses bodies over 11 MiB. A presigned upload is one PUT of up
    // to MAX_IMAGE_BYTES (at most 100 MiB), so the sandbox's S3 takes that much (patches/fauxqs+2.4.1.patch).
    bodyLimit: sandboxRequestBodyLimitBytes,
    logger: false,
    defaultRegion: sandboxRegion,
    ...(options.dataDir && {
      dataDir: join(options.dataDir, "sqs"),
      s3StorageDir: join(options.dataDir, "s3"),
    }),
  });
  await assertListensOn(options.host, fauxqs).catch(async (err: unknown) => {
    await fauxqs.stop();
    throw err;
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
    ...(options.spy && { spy: fauxqs.spy }),
    async stop() {
      await connected.stop();
      await fauxqs.stop();
      await new Promise<void>((resolve) => dynamo.close(() => resolve()));
    },
  };
}

/**
 * The emulators take no credentials, so they must listen only where they were asked to. fauxqs 2.4.1 listens on
 * every interface unless patched (patches/, applied by `npm ci`'s postinstall): refuse to run without the patch.
 */
export async function assertListensOn(host: string, server: { listening?: AddressInfo }): Promise<void> {
  const wanted = (await lookup(host, { all: true })).map((a) => a.address);
  const actual = server.listening?.address;
  if (actual !== undefined && wanted.includes(actual)) return;
  throw new Error(
    `The S3/SQS emulator (fauxqs) listens on ${actual ?? "every interface"}, not on HOST (${host}): its patch in ` +
      "patches/ is not applied. Run `npm ci` (its postinstall applies it), or `npx patch-package`.",
  );
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
  /** The batch lane's queue, redriving to the jobs DLQ, when the caller runs one. */
  batchQueue?: string;
  webhooksQueue: string;
  webhooksDlq: string;
  /** The inbox queue (S3 upload notifications), when the caller runs the inbox. */
  inboxQueue?: string;
  inboxDlq?: string;
  visibilityTimeoutSeconds: number;
  maxAttempts: number;
}

export interface Resources {
  jobsQueueUrl: string;
  jobsDlqUrl: string;
  batchQueueUrl?: string;
  webhooksQueueUrl: string;
  webhooksDlqUrl: string;
  inboxQueueUrl?: string;
  inboxDlqUrl?: string;
}

/** Creates the table, bucket and queues if they are missing; safe to run on every start. */
export async function ensureResources(clients: Emulators["clients"], spec: ResourceSpec): Promise<Resources> {
  const { dynamodb, s3, sqs } = clients;
  const wanted = tableDefinition(spec.table);
  try {
    const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: spec.table }));
    // dynalite cannot add an index to an existing table (it ignores UpdateTable's index changes).
    const missing = (wanted.GlobalSecondaryIndexes ?? []).filter(
      (want) => !Table?.GlobalSecondaryIndexes?.some((have) => have.IndexName === want.IndexName),
    );
    if (missing.length > 0) {
      throw new Error(
        `The table '${spec.table}' in the data directory predates the index ${missing.map((i) => i.IndexName).join(", ")}. ` +
          "Start with a new DATA_DIR (or delete its dynamodb folder) to recreate it.",
      );
    }
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException)) throw err;
    await dynamodb.send(new CreateTableCommand(wanted));
  }
  try {
    await s3.send(new HeadBucketCommand({ Bucket: spec.bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: spec.bucket }));
  }
  const jobs = await queueWithDlq(sqs, spec.jobsQueue, spec.jobsDlq, {
    visibilityTimeoutSeconds: spec.visibilityTimeoutSeconds,
    maxReceiveCount: dlqAfterReceives(spec.maxAttempts),
  });
  const batch =
    spec.batchQueue &&
    (await queueWithDlq(sqs, spec.batchQueue, spec.jobsDlq, {
      visibilityTimeoutSeconds: spec.visibilityTimeoutSeconds,
      maxReceiveCount: dlqAfterReceives(spec.maxAttempts),
    }));
  const webhooks = await queueWithDlq(sqs, spec.webhooksQueue, spec.webhooksDlq, {
    visibilityTimeoutSeconds: webhookVisibilityTimeoutSeconds,
    maxReceiveCount: webhookDlqAfterReceives,
  });
  const inbox =
    spec.inboxQueue && spec.inboxDlq
      ? await queueWithDlq(sqs, spec.inboxQueue, spec.inboxDlq, {
          visibilityTimeoutSeconds: inboxVisibilityTimeoutSeconds,
          maxReceiveCount: inboxDlqAfterReceives,
        })
      : undefined;
  return {
    jobsQueueUrl: jobs.url,
    jobsDlqUrl: jobs.dlqUrl,
    ...(batch && { batchQueueUrl: batch.url }),
    webhooksQueueUrl: webhooks.url,
    webhooksDlqUrl: webhooks.dlqUrl,
    ...(inbox && { inboxQueueUrl: inbox.url, inboxDlqUrl: inbox.dlqUrl }),
  };
}

async function queueWithDlq(
  sqs: SQSClient,
  name: string,
  dlqName: string,
  options: { visibilityTimeoutSeconds: number; maxReceiveCount: number },
): Promise<{ url: string; dlqUrl: string }> {
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: dlqName }));
  const dlqUrl = dlq.QueueUrl as string;
  const dlqArn = (
    await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ["QueueArn"] }))
  ).Attributes?.QueueArn as string;
  const attributes = {
    VisibilityTimeout: String(options.visibilityTimeoutSeconds),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: options.maxReceiveCount }),
  };
  const queue = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  const url = queue.QueueUrl as string;
  // CreateQueue refuses changed attributes on an existing queue; set them explicitly instead.
  await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: attributes }));
  return { url, dlqUrl };
}
