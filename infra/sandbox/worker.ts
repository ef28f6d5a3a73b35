import { loadSandboxConfig, setFunctionEnvironment } from "../../lib/config.ts";
import { createLogger } from "../../lib/logging.ts";
import { connectEmulators } from "./emulators.ts";
import type { SqsHandler } from "./lambda.ts";
import { functionEnvironment, jobWorkerPollers } from "./sandbox.ts";
import { stopOnSignals } from "./shutdown.ts";

// A job worker in a process of its own, against the emulators of a running `npm start` (the same HOST,
// EMULATOR_PORT and DYNAMODB_PORT): the worker Lambda and its SQS event source mapping, nothing else. Start the
// sandbox with RUN_WORKER=false to leave every job to processes like this one, which can be killed at any
// moment, as Lambda's can, to watch the jobs they held come back and finish once.

const config = loadSandboxConfig();
const logger = createLogger({ level: "info", format: config.LOG_FORMAT, service: "sandbox-worker" });
const emulators = connectEmulators({
  awsEndpoint: `http://${config.HOST}:${config.EMULATOR_PORT}`,
  dynamoEndpoint: `http://${config.HOST}:${config.DYNAMODB_PORT}`,
});
const { resources, env } = await functionEnvironment(config, emulators);
setFunctionEnvironment(env);
const worker: { handler: SqsHandler } = await import("../../functions/worker.ts");
const pollers = await jobWorkerPollers(config, emulators, resources, worker.handler, logger);
for (const poller of pollers) poller.start();
process.stdout.write(
  `Worker ${process.pid} is running: jobs from ${resources.jobsQueueUrl}, concurrency ${config.WORKER_CONCURRENCY}.\n`,
);

stopOnSignals(async () => {
  await Promise.all(pollers.map((p) => p.stop()));
  await emulators.stop();
}, process.stdout);
