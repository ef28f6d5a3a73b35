import type { APIGatewayProxyStructuredResultV2, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { installResponseStreaming, lambdaContext } from "../../infra/sandbox/lambda.ts";
import type { SqsPoller } from "../../infra/sandbox/poller.ts";
import { jobWorkerPollers } from "../../infra/sandbox/sandbox.ts";
import { loadSandboxConfig, type ServiceConfig, setFunctionEnvironment } from "../../lib/config.ts";
import { createLogger } from "../../lib/logging.ts";
import { type Metrics, noMetrics } from "../../lib/metrics.ts";
import type { Observability } from "../../lib/middleware/observability.ts";
import {
  type ApiRuntime,
  type Clients,
  createApi,
  createDeadLetters,
  createInbox,
  createStreamingApi,
  createWebhooks,
  createWorker,
  type RuntimeOptions,
  type StreamedResult,
} from "../../lib/runtime.ts";
import type { TestStack } from "./emulators.ts";

// Tests run the functions' own middy chains (functions/*.ts `chain`), built on a runtime made by the composition
// root from a test's configuration and the emulators' clients: the chain Lambda and the sandbox run.
//
// Importing a functions/ module also makes Lambda's handler from the environment (its cold start). These
// placeholders let it be made; it is never invoked, and making it calls nothing.
const placeholders = {
  AWS_REGION: "us-east-1",
  JOBS_TABLE: "unused-by-tests",
  IMAGES_BUCKET: "unused-by-tests",
  JOBS_QUEUE_URL: "http://127.0.0.1:9/000000000000/unused-by-tests",
  WEBHOOKS_QUEUE_URL: "http://127.0.0.1:9/000000000000/unused-by-tests",
};
setFunctionEnvironment(
  Object.fromEntries(Object.entries(placeholders).filter(([name]) => process.env[name] === undefined)),
);
// The Lambda runtime's response streaming, which functions/api-stream.ts's chain needs when it is made.
installResponseStreaming();
const functions = {
  api: await import("../../functions/api.ts"),
  apiStream: await import("../../functions/api-stream.ts"),
  worker: await import("../../functions/worker.ts"),
  webhooks: await import("../../functions/webhooks.ts"),
  dlq: await import("../../functions/dlq.ts"),
  inbox: await import("../../functions/inbox.ts"),
};

/** Logs nowhere; metrics to `metrics` (a test's recorder) or nowhere. */
export function quietObservability(metrics: Metrics = noMetrics): Observability {
  return {
    logger: createLogger({ level: "silent", format: "pretty", service: "test" }),
    metrics,
    tracer: undefined,
    powertools: {},
  };
}

/** A function's handler (its middy chain) and the runtime it was made of, for tests that reach inside. */
type Made<R, H> = R & { handler: H };

/** An SQS function: its handler, and `invoke` to hand it one batch as Lambda would (with a minute to run). */
function sqsFunction<R>(
  name: string,
  runtime: R,
  handler: (event: SQSEvent, context: ReturnType<typeof lambdaContext>) => Promise<SQSBatchResponse>,
) {
  return {
    ...runtime,
    handler,
    invoke: (event: SQSEvent) => handler(event, lambdaContext(name, 60_000)),
  };
}

export function apiFunction(
  config: ServiceConfig,
  clients: Clients,
  options?: RuntimeOptions,
): Made<ApiRuntime<APIGatewayProxyStructuredResultV2>, ReturnType<typeof functions.api.chain>> {
  const runtime = createApi(config, clients, options);
  return { ...runtime, handler: functions.api.chain(runtime) };
}

export function streamingApiFunction(config: ServiceConfig, clients: Clients, options?: RuntimeOptions) {
  const runtime: ApiRuntime<StreamedResult> = createStreamingApi(config, clients, options);
  return { ...runtime, handler: functions.apiStream.chain(runtime) };
}

/** An SQS function made by its factory in the composition root, behind its own chain. */
const queueFunction =
  <R>(
    name: string,
    create: (config: ServiceConfig, clients: Clients, options?: RuntimeOptions) => R,
    chain: (
      runtime: R,
    ) => (event: SQSEvent, context: ReturnType<typeof lambdaContext>) => Promise<SQSBatchResponse>,
  ) =>
  (config: ServiceConfig, clients: Clients, options?: RuntimeOptions) => {
    const runtime = create(config, clients, options);
    return sqsFunction(name, runtime, chain(runtime));
  };

export const workerFunction = queueFunction("worker", createWorker, functions.worker.chain);
export const webhooksFunction = queueFunction("webhooks", createWebhooks, functions.webhooks.chain);
export const deadLettersFunction = queueFunction("dlq", createDeadLetters, functions.dlq.chain);
export const inboxFunction = queueFunction("inbox", createInbox, functions.inbox.chain);

/** The sandbox's job pollers in front of a worker, started: two interactive slots and one on the batch lane. */
export async function startLanePollers(
  stack: TestStack,
  worker: ReturnType<typeof workerFunction>,
): Promise<SqsPoller[]> {
  const pollers = await jobWorkerPollers(
    loadSandboxConfig({ WORKER_CONCURRENCY: "2", BATCH_LANE_CONCURRENCY: "1", WORKER_TIMEOUT_MS: "60000" }),
    stack.emulators,
    stack.resources,
    (event) => worker.invoke(event),
    createLogger({ level: "silent", format: "json", service: "test" }),
  );
  for (const poller of pollers) poller.start();
  return pollers;
}
