import { connectEmulators } from "../../infra/sandbox/emulators.ts";
import type { SqsHandler } from "../../infra/sandbox/lambda.ts";
import { functionEnvironment, jobWorkerPollers } from "../../infra/sandbox/sandbox.ts";
import { loadSandboxConfig, setFunctionEnvironment } from "../../lib/config.ts";
import { createLogger } from "../../lib/logging.ts";

// One job worker process, as `npm run sandbox:worker` runs it (the worker Lambda behind its SQS event source
// mapping), against the emulators process whose endpoints are argv[2] (JSON). Prints {pid} as one JSON line, then
// runs until signalled.

const endpoints = JSON.parse(process.argv[2] ?? "") as { awsEndpoint: string; dynamoEndpoint: string };
const config = loadSandboxConfig();
const emulators = connectEmulators(endpoints);
const { resources, env } = await functionEnvironment(config, emulators);
setFunctionEnvironment(env);
const worker: { handler: SqsHandler } = await import("../../functions/worker.ts");
const logger = createLogger({ level: "warn", format: "json", service: "bench-worker" });
const pollers = await jobWorkerPollers(config, emulators, resources, worker.handler, logger);
for (const poller of pollers) poller.start();
process.stdout.write(`${JSON.stringify({ pid: process.pid })}\n`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    Promise.all(pollers.map((poller) => poller.stop()))
      .then(() => emulators.stop())
      .then(() => process.exit(0));
  });
}
