import type { Tracer } from "@aws-lambda-powertools/tracer";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { type AwsCallCounter, recordAwsCalls, type ServiceName } from "../aws-calls.ts";
import type { ServiceConfig } from "../config.ts";

export interface Clients {
  s3: S3Client;
  sqs: SQSClient;
  dynamodb: DynamoDBClient;
}

/** In Lambda the SDK finds credentials itself (the role); tests hand in the emulators' dummy ones. */
export function createClients(
  config: ServiceConfig,
  options: {
    credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
    tracer?: Tracer | undefined;
    /** Counts every call (the bench's calls per job). */
    counter?: AwsCallCounter;
  } = {},
): Clients {
  const tracer = options.tracer;
  const region = config.AWS_REGION;
  const base = { region, ...(options.credentials && { credentials: options.credentials }) };
  const s3Endpoint = config.AWS_ENDPOINT_URL_S3 ?? config.AWS_ENDPOINT_URL;
  const sqsEndpoint = config.AWS_ENDPOINT_URL_SQS ?? config.AWS_ENDPOINT_URL;
  const dynamoEndpoint = config.AWS_ENDPOINT_URL_DYNAMODB ?? config.AWS_ENDPOINT_URL;
  const clients = {
    // Path-style keeps emulator endpoints (http://127.0.0.1:port/bucket/key) working.
    s3: new S3Client({ ...base, ...(s3Endpoint && { endpoint: s3Endpoint, forcePathStyle: true }) }),
    sqs: new SQSClient({ ...base, ...(sqsEndpoint && { endpoint: sqsEndpoint }) }),
    dynamodb: new DynamoDBClient({ ...base, ...(dynamoEndpoint && { endpoint: dynamoEndpoint }) }),
  };
  // Each AWS call becomes an X-Ray subsegment of the invocation's trace.
  if (tracer) for (const client of Object.values(clients)) tracer.captureAWSv3Client(client);
  if (options.counter) for (const client of Object.values(clients)) options.counter.attach(client);
  return clients;
}

/** The clients as one function's code sees them: its calls are recorded under its name when AWS_CALL_LOG_DIR is set. */
export function clientsOf(service: ServiceName, clients: Clients, config: ServiceConfig): Clients {
  return {
    s3: recordAwsCalls(clients.s3, service, config),
    sqs: recordAwsCalls(clients.sqs, service, config),
    dynamodb: recordAwsCalls(clients.dynamodb, service, config),
  };
}
