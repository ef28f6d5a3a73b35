import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { GetQueueAttributesCommand, type Message } from "@aws-sdk/client-sqs";
import type { Context } from "aws-lambda";
import type { ResponseStreamHandler } from "../../lib/api/app.ts";
import { KeyStore } from "../../lib/auth/keys.ts";
import { type SandboxConfig, setFunctionEnvironment } from "../../lib/config.ts";
import { internalError, PayloadTooLargeError } from "../../lib/errors.ts";
import { jobMessage } from "../../lib/jobs/model.ts";
import { createLogger, type Logger } from "../../lib/logging.ts";
import { resourceNames } from "../resources.ts";
import {
  type Emulators,
  ensureResources,
  type Resources,
  sandboxCredentials,
  sandboxRegion,
  startEmulators,
} from "./emulators.ts";
import { InboxForwarder } from "./inbox.ts";
import {
  answerClientError,
  installResponseStreaming,
  lambdaContext,
  respondStreaming,
  type SqsHandler,
  toApiGatewayEvent,
  writeResult,
} from "./lambda.ts";
import { SqsPoller } from "./poller.ts";

type KeySource = "env" | "generated" | "kept";

export interface Sandbox {
  apiUrl: string;
  apiKey: string;
  keySource: KeySource;
  adminKey: string;
  adminKeySource: KeySource;
  awsEndpoint: string;
  dynamoEndpoint: string;
  provider: string;
  /** Every provider the functions can call, by name. */
  providers: string[];
  defaultModel: string;
  stop(): Promise<void>;
}

// API Gateway's payload limit; the handler applies the service's own, smaller one.
const maxHttpBody = 10 * 1024 * 1024 * 1.4;

/** A key from the environment, else the one kept in DATA_DIR, else a new one kept there (mode 600). */
async function sandboxKey(
  fromEnv: string | undefined,
  file: string,
  generate: () => string,
): Promise<{ key: string; source: KeySource }> {
  if (fromEnv) return { key: fromEnv, source: "env" };
  const kept = await readFile(file, "utf8").catch(() => "");
  if (kept.trim()) return { key: kept.trim(), source: "kept" };
  const key = generate();
  await writeFile(file, `${key}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return { key, source: "generated" };
}

/**
 * The table, bucket and queues (created if missing) and the environment the CDK stack gives the functions,
 * pointed at the emulators. Shared by `npm start` and a worker process of its own (infra/sandbox/worker.ts).
 */
export async function functionEnvironment(
  config: SandboxConfig,
  emulators: Emulators,
  adminKey?: string,
): Promise<{ resources: Resources; env: Record<string, string> }> {
  const maxAttempts = Number(config.JOB_MAX_ATTEMPTS ?? 3);
  const visibilityTimeoutSeconds = jobsVisibilityTimeoutSeconds(config);
  const resources = await ensureResources(emulators.clients, {
    ...resourceNames,
    visibilityTimeoutSeconds,
    maxAttempts,
  });

  // The environment the CDK stack gives the functions, pointed at the emulators.
  const passThrough = [
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "DEFAULT_MODEL",
    "SYNC_WAIT_MS",
    "DEFAULT_RESPONSE_FORMAT",
    "PROVIDER_TIMEOUT_MS",
    "PROVIDER_MAX_RETRIES",
    "JOB_MAX_ATTEMPTS",
    "LOG_LEVEL",
    "PLACEHOLDER_FALLBACK",
    "PLACEHOLDER_PARTIAL_INTERVAL_MS",
    "ALLOW_PRIVATE_URLS",
    "CANCEL_CHECK_MS",
    "WEBHOOK_RETRY_SCHEDULE",
    "WEBHOOK_TIMEOUT_MS",
    "WEBHOOK_SECRET_OVERLAP_SECONDS",
    "TENANT_SOURCE_FOLDERS",
    "OPENAI_BATCH_LANE",
  ] as const;
  // A real Bedrock (BEDROCK_REGION without an endpoint override) signs with the shell's own credentials; the
  // emulators accept those as well. Otherwise everything signs with the emulators' dummy ones.
  const realBedrock =
    config.BEDROCK_REGION !== undefined &&
    config.AWS_ENDPOINT_URL_BEDROCK_RUNTIME === undefined &&
    (config.AWS_PROFILE !== undefined || config.AWS_ACCESS_KEY_ID !== undefined);
  const env: Record<string, string> = {
    AWS_REGION: sandboxRegion,
    ...(!realBedrock && {
      AWS_ACCESS_KEY_ID: sandboxCredentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: sandboxCredentials.secretAccessKey,
    }),
    AWS_ENDPOINT_URL: emulators.awsEndpoint,
    AWS_ENDPOINT_URL_DYNAMODB: emulators.dynamoEndpoint,
    JOBS_TABLE: resourceNames.table,
    IMAGES_BUCKET: resourceNames.bucket,
    JOBS_QUEUE_URL: resources.jobsQueueUrl,
    ...(resources.batchQueueUrl && { BATCH_QUEUE_URL: resources.batchQueueUrl }),
    WEBHOOKS_QUEUE_URL: resources.webhooksQueueUrl,
    WORKER_TIMEOUT_MS: String(config.WORKER_TIMEOUT_MS),
    LOG_FORMAT: config.LOG_FORMAT,
    ...(adminKey && { ADMIN_API_KEY: adminKey }),
  };
  for (const name of passThrough) {
    const value = config[name];
    if (value !== undefined) env[name] = value;
  }
  return { resources, env };
}

/** The jobs queue's visibility timeout: it outlives the worker, as in the stack. */
export const jobsVisibilityTimeoutSeconds = (config: SandboxConfig) =>
  Math.ceil(config.WORKER_TIMEOUT_MS / 1000) + 30;

/** SQS queue ARN, as an event source mapping names its source. */
export async function queueArn(emulators: Emulators, url: string): Promise<string> {
  const res = await emulators.clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }),
  );
  return res.Attributes?.QueueArn as string;
}

/**
 * The worker Lambda's event source mappings: the jobs queue, one message per invocation, and the batch lane's
 * queue with its few slots of its own (the stack's MaximumConcurrency), so batch work never takes an interactive
 * job's slot and still progresses.
 */
export async function jobWorkerPollers(
  config: SandboxConfig,
  emulators: Emulators,
  resources: Resources,
  handler: SqsHandler,
  logger: Logger,
): Promise<SqsPoller[]> {
  const batchQueueUrl = resources.batchQueueUrl;
  return [
    await jobWorkerPoller(
      config,
      emulators,
      resources.jobsQueueUrl,
      config.WORKER_CONCURRENCY,
      handler,
      logger,
    ),
    ...(batchQueueUrl
      ? [
          await jobWorkerPoller(
            config,
            emulators,
            batchQueueUrl,
            config.BATCH_LANE_CONCURRENCY,
            handler,
            logger,
          ),
        ]
      : []),
  ];
}

async function jobWorkerPoller(
  config: SandboxConfig,
  emulators: Emulators,
  queueUrl: string,
  concurrency: number,
  handler: SqsHandler,
  logger: Logger,
): Promise<SqsPoller> {
  return new SqsPoller({
    sqs: emulators.clients.sqs,
    queueUrl,
    queueArn: await queueArn(emulators, queueUrl),
    functionName: "worker",
    handler,
    batchSize: 1,
    concurrency,
    functionTimeoutMs: config.WORKER_TIMEOUT_MS,
    logger,
    fairness: {
      groupOf: jobMessageGroup,
      lookahead: config.WORKER_LOOKAHEAD,
      visibilityTimeoutSeconds: jobsVisibilityTimeoutSeconds(config),
    },
  });
}

/** Runs a scheduled function every `seconds` (an EventBridge rule, locally), one run at a time, until stopped. */
function everySeconds(
  seconds: number,
  fn: { handler: (event: unknown, context: Context) => Promise<unknown> },
  logger: Logger,
): { stop(): Promise<void> } {
  let stopped = false;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (!stopped) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, seconds * 1000).unref();
      });
      if (stopped) return;
      await fn
        .handler({}, lambdaContext("batch-poller", 300_000))
        .catch((err: unknown) => logger.error("The batch poller failed; it runs again on schedule", { err }));
    }
  })();
  return {
    async stop() {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}

/** A job message's group: SQS's MessageGroupId where the queue reports it, else the tenant it names (fauxqs). */
export function jobMessageGroup(message: Message): string {
  const group = message.Attributes?.MessageGroupId;
  if (group) return group;
  try {
    const parsed = jobMessage.safeParse(JSON.parse(message.Body ?? ""));
    // A malformed body still goes to the handler, which reports it failed (and it reaches the DLQ).
    return parsed.success ? parsed.data.tenant : "";
  } catch {
    return "";
  }
}

/**
 * The whole service on one machine: emulators, the real handlers, an HTTP front and SQS pollers.
 * `options.emulators` runs it against emulators started elsewhere (the bench keeps their CPU out of this process).
 */
export async function startSandbox(
  config: SandboxConfig,
  options: { emulators?: Emulators } = {},
): Promise<Sandbox> {
  const logger = createLogger({ level: "info", format: config.LOG_FORMAT, service: "sandbox" });
  await mkdir(config.DATA_DIR, { recursive: true });
  const local = await sandboxKey(
    config.LOCAL_API_KEY,
    join(config.DATA_DIR, "local-api-key"),
    KeyStore.generate,
  );
  const admin = await sandboxKey(
    config.ADMIN_API_KEY,
    join(config.DATA_DIR, "admin-api-key"),
    () => `sk-admin-${randomBytes(24).toString("base64url")}`,
  );
  const emulators =
    options.emulators ??
    (await startEmulators({
      host: config.HOST,
      awsPort: config.EMULATOR_PORT,
      dynamoPort: config.DYNAMODB_PORT,
      dataDir: config.DATA_DIR,
      spy: true,
    }));
  const { resources, env } = await functionEnvironment(config, emulators, admin.key);
  setFunctionEnvironment(env);
  // The API as the Function URL serves it (RESPONSE_STREAM): the same answers, streams sent as they are made.
  installResponseStreaming();
  const api: { handler: ResponseStreamHandler } = await import("../../functions/api-stream.ts");
  const worker: { handler: SqsHandler } = await import("../../functions/worker.ts");
  const dlq: { handler: SqsHandler } = await import("../../functions/dlq.ts");
  const webhooks: { handler: SqsHandler } = await import("../../functions/webhooks.ts");
  const inbox: { handler: SqsHandler } = await import("../../functions/inbox.ts");
  const { createRegistry, enabledProviders, routedProviders } = await import("../../lib/runtime.ts");
  const { loadConfig } = await import("../../lib/config.ts");
  const functionConfig = loadConfig();
  const registry = createRegistry(functionConfig, routedProviders(functionConfig));
  const defaultModel = registry.resolve(undefined, "generate");

  await new KeyStore(emulators.clients.dynamodb, resourceNames.table).put(local.key, "local", "sandbox");

  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > maxHttpBody)
          throw new PayloadTooLargeError("The request body is larger than API Gateway's 10 MB limit.");
        chunks.push(chunk as Buffer);
      }
      await respondStreaming(
        api.handler,
        toApiGatewayEvent(req, Buffer.concat(chunks)),
        res,
        lambdaContext("api", 30_000),
      );
    } catch (err) {
      const e = err instanceof PayloadTooLargeError ? err : internalError();
      if (!(err instanceof PayloadTooLargeError)) logger.error("Sandbox HTTP failure", { err });
      res.setHeader("connection", "close");
      writeResult(res, {
        statusCode: e.status,
        headers: { "content-type": "application/json" },
        body: JSON.stringify(e.toBody()),
      });
    }
  });
  server.on("clientError", answerClientError);
  server.listen(config.PORT, config.HOST);
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });

  // The event source mappings of the stack: the worker on the jobs queue, the dead-letter consumer on its DLQ,
  // the webhook deliverer on the webhooks queue.
  const pollers = [
    // RUN_WORKER=false leaves the jobs queue to worker processes of their own (infra/sandbox/worker.ts).
    ...(config.RUN_WORKER
      ? await jobWorkerPollers(config, emulators, resources, worker.handler, logger)
      : []),
    new SqsPoller({
      sqs: emulators.clients.sqs,
      queueUrl: resources.jobsDlqUrl,
      queueArn: await queueArn(emulators, resources.jobsDlqUrl),
      functionName: "dlq",
      handler: dlq.handler,
      batchSize: 10,
      concurrency: 1,
      functionTimeoutMs: 30_000,
      logger,
    }),
    new SqsPoller({
      sqs: emulators.clients.sqs,
      queueUrl: resources.webhooksQueueUrl,
      queueArn: await queueArn(emulators, resources.webhooksQueueUrl),
      functionName: "webhooks",
      handler: webhooks.handler,
      batchSize: 10,
      concurrency: 2,
      functionTimeoutMs: 60_000,
      logger,
    }),
  ];
  // S3 → inbox queue → inbox function. The queue and its consumer always exist; the forwarding that stands in for
  // S3's notification needs the emulator in this process (the bench runs it in another, and uploads nothing).
  const inboxQueueUrl = resources.inboxQueueUrl as string;
  pollers.push(
    new SqsPoller({
      sqs: emulators.clients.sqs,
      queueUrl: inboxQueueUrl,
      queueArn: await queueArn(emulators, inboxQueueUrl),
      functionName: "inbox",
      handler: inbox.handler,
      batchSize: 5,
      concurrency: 1,
      functionTimeoutMs: 60_000,
      logger,
    }),
  );
  for (const poller of pollers) poller.start();
  // The batch lane's poller on its schedule, when the lane is on (it calls OpenAI, or what OPENAI_BASE_URL names).
  const batchPolls =
    functionConfig.OPENAI_BATCH_LANE && functionConfig.OPENAI_API_KEY
      ? everySeconds(config.BATCH_POLL_SECONDS, await import("../../functions/batch-poller.ts"), logger)
      : undefined;
  const forwarder = emulators.spy
    ? new InboxForwarder({
        spy: emulators.spy,
        s3: emulators.clients.s3,
        sqs: emulators.clients.sqs,
        bucket: resourceNames.bucket,
        queueUrl: inboxQueueUrl,
        region: sandboxRegion,
        logger,
      })
    : undefined;
  if (forwarder) await forwarder.start();
  else logger.warn("Uploads to inbox/ are not turned into jobs: the emulators run in another process");

  const port = (server.address() as AddressInfo).port;
  let stopping: Promise<void> | undefined;
  return {
    apiUrl: `http://${config.HOST === "0.0.0.0" ? "127.0.0.1" : config.HOST}:${port}`,
    apiKey: local.key,
    keySource: local.source,
    adminKey: admin.key,
    adminKeySource: admin.source,
    awsEndpoint: emulators.awsEndpoint,
    dynamoEndpoint: emulators.dynamoEndpoint,
    provider: defaultModel.provider.name,
    providers: enabledProviders(functionConfig),
    defaultModel: defaultModel.model.id,
    stop() {
      stopping ??= (async () => {
        // Order matters: stop taking requests, let running jobs finish, then close the stores they write to.
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await forwarder?.stop();
        await batchPolls?.stop();
        await Promise.all(pollers.map((p) => p.stop()));
        // What still waits now (a stream or sync wait on a job no worker will run) would only run out its wait.
        server.closeAllConnections();
        await closed;
        await emulators.stop();
      })();
      return stopping;
    },
  };
}
