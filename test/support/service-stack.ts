import { EventEmitter, once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  lambdaContext,
  respondStreaming,
  type SqsHandler,
  toApiGatewayEvent,
  writeResult,
} from "../../infra/sandbox/lambda.ts";
import { SqsPoller } from "../../infra/sandbox/poller.ts";
import { KeyStore } from "../../lib/auth/keys.ts";
import type { ServiceConfig } from "../../lib/config.ts";
import { createLogger } from "../../lib/logging.ts";
import type { AddressPolicy } from "../../lib/net/outbound.ts";
import type { RuntimeOptions } from "../../lib/runtime.ts";
import { answerChecked, checkedApi } from "./contract.ts";
import { credentials, startTestStack, type TestStack } from "./emulators.ts";
import { apiFunction, streamingApiFunction, webhooksFunction, workerFunction } from "./functions.ts";

/** 127.0.0.1 plays the public internet (test receivers listen there); every other private address stays private. */
export const loopbackIsPublic: AddressPolicy = (address) => address === "127.0.0.1";

export interface ServiceStack {
  stack: TestStack;
  config: ServiceConfig;
  /** The API, served over HTTP as the sandbox does. */
  url: string;
  /** API keys by tenant. */
  keys: Record<string, string>;
  /** Emits "jobs" and "webhooks" after each handled batch. */
  batches: EventEmitter;
  /** The job worker's poller is started by default; tests of queued jobs start it when they choose. */
  startWorker(): void;
  stopWorker(): Promise<void>;
  /** Another API handler with different settings, on the same table and queues. */
  serveApi(env: Record<string, string>): Promise<string>;
  /**
   * The API as the Function URL serves it (InvokeMode RESPONSE_STREAM): event streams sent as they are made.
   * `url` serves it as the HTTP API does, each answer whole.
   */
  serveStreamingApi(env?: Record<string, string>): Promise<string>;
  close(): Promise<void>;
}

/**
 * The service in this process: real emulators, the real API handler behind HTTP, the worker and the
 * webhook deliverer fed by SQS pollers, as the sandbox runs them, with test-only wiring (URL policy) injected.
 */
export async function startServiceStack(
  options: {
    env?: Record<string, string>;
    tenants?: string[];
    worker?: boolean;
    overrides?: RuntimeOptions;
  } = {},
): Promise<ServiceStack> {
  const stack = await startTestStack();
  const config = stack.config(options.env ?? {});
  const clients = stack.emulators.clients;
  const overrides: RuntimeOptions = { urlPolicy: loopbackIsPublic, ...options.overrides };
  const logger = createLogger({ level: "silent", format: "json", service: "test" });
  const batches = new EventEmitter();
  const servers: Server[] = [];

  const serve = async (env: Record<string, string>) => {
    // Every answer is checked against the service's own /openapi.json (test/support/contract.ts).
    const api = checkedApi(apiFunction(stack.config({ ...options.env, ...env }), clients, overrides).handler);
    const server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const event = toApiGatewayEvent(req, Buffer.concat(chunks));
      writeResult(res, await answerChecked(() => api(event, lambdaContext("api", 30_000))));
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  const serveStreaming = async (env: Record<string, string>) => {
    const api = streamingApiFunction(stack.config({ ...options.env, ...env }), clients, overrides).handler;
    const server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      await respondStreaming(
        api,
        toApiGatewayEvent(req, Buffer.concat(chunks)),
        res,
        lambdaContext("api", 30_000),
      );
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  // The worker's own provider clients (Bedrock) sign with the emulators' dummy credentials, as the sandbox does.
  const worker = workerFunction(config, clients, { providerCredentials: credentials }).handler;
  const deliverer = webhooksFunction(config, clients, overrides).handler;
  const poller = (name: "jobs" | "webhooks", queueUrl: string, handle: SqsHandler) =>
    new SqsPoller({
      sqs: clients.sqs,
      queueUrl,
      queueArn: `arn:aws:sqs:us-east-1:000000000000:${name}`,
      functionName: name,
      handler: async (event, context) => {
        const result = await handle(event, context);
        batches.emit(name, event, result);
        return result;
      },
      batchSize: name === "jobs" ? 1 : 10,
      concurrency: 2,
      functionTimeoutMs: 60_000,
      logger,
    });
  let workerPoller: SqsPoller | undefined;
  const webhooks = poller("webhooks", stack.resources.webhooksQueueUrl, deliverer);
  webhooks.start();

  const keys: Record<string, string> = {};
  const keyStore = new KeyStore(clients.dynamodb, stack.names.table);
  for (const tenant of options.tenants ?? ["acme", "other"]) {
    keys[tenant] = KeyStore.generate();
    await keyStore.put(keys[tenant], tenant, "test");
  }

  const result: ServiceStack = {
    stack,
    config,
    url: await serve({}),
    keys,
    batches,
    startWorker() {
      workerPoller ??= poller("jobs", stack.resources.jobsQueueUrl, worker);
      workerPoller.start();
    },
    async stopWorker() {
      await workerPoller?.stop();
      workerPoller = undefined;
    },
    serveApi: serve,
    serveStreamingApi: (env = {}) => serveStreaming(env),
    async close() {
      await Promise.all([workerPoller?.stop(), webhooks.stop()]);
      for (const s of servers) {
        s.closeAllConnections();
        s.close();
      }
      await stack.emulators.stop();
    },
  };
  if (options.worker !== false) result.startWorker();
  return result;
}
