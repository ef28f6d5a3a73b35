import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { lambdaContext, toApiGatewayEvent, writeResult } from "../../infra/sandbox/lambda.ts";
import { SqsPoller } from "../../infra/sandbox/poller.ts";
import { KeyStore } from "../../lib/auth/keys.ts";
import { createLogger } from "../../lib/logging.ts";
import { answerChecked, checkedApi } from "./contract.ts";
import type { TestStack } from "./emulators.ts";
import { apiFunction, workerFunction } from "./functions.ts";

export interface TestService {
  url: string;
  key: string;
  /** Another tenant's key, for isolation checks. */
  otherKey: string;
  /** Job records in the table, and objects in the bucket: what a rejected request must not add to. */
  counts(): Promise<{ jobs: number; objects: number }>;
  objectKeys(): Promise<string[]>;
  stop(): Promise<void>;
}

/**
 * The API and worker handlers in this process, as the sandbox runs them (an HTTP front shaped like API
 * Gateway, an SQS poller shaped like Lambda's event source mapping), on a test stack's emulators.
 */
export async function startTestService(
  stack: TestStack,
  env: Record<string, string> = {},
): Promise<TestService> {
  const config = stack.config(env);
  // The emulators' clients carry the sandbox credentials; the service's own would look in the environment.
  // Every answer is checked against the service's own /openapi.json (test/support/contract.ts).
  const api = checkedApi(apiFunction(config, stack.emulators.clients).handler);
  const worker = workerFunction(config, stack.emulators.clients).handler;
  const keys = new KeyStore(stack.emulators.clients.dynamodb, stack.names.table);
  const key = KeyStore.generate();
  const otherKey = KeyStore.generate();
  await keys.put(key, "tenant-a", "test");
  await keys.put(otherKey, "tenant-b", "test");

  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const event = toApiGatewayEvent(req, Buffer.concat(chunks));
    writeResult(res, await answerChecked(() => api(event, lambdaContext("api", 30_000))));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");

  const { sqs, s3, dynamodb } = stack.emulators.clients;
  const queueArn = (
    await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: stack.resources.jobsQueueUrl, AttributeNames: ["QueueArn"] }),
    )
  ).Attributes?.QueueArn as string;
  const poller = new SqsPoller({
    sqs,
    queueUrl: stack.resources.jobsQueueUrl,
    queueArn,
    functionName: "worker",
    handler: worker,
    batchSize: 1,
    concurrency: 2,
    functionTimeoutMs: 60_000,
    logger: createLogger({ level: "silent", format: "json", service: "test" }),
  });
  poller.start();

  const objectKeys = async () =>
    ((await s3.send(new ListObjectsV2Command({ Bucket: stack.names.bucket }))).Contents ?? []).map(
      (o) => o.Key ?? "",
    );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    key,
    otherKey,
    objectKeys,
    async counts() {
      const scan = await dynamodb.send(new ScanCommand({ TableName: stack.names.table }));
      const jobs = (scan.Items ?? []).filter((i) => i.sk?.S?.startsWith("J#")).length;
      return { jobs, objects: (await objectKeys()).length };
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await poller.stop();
    },
  };
}
