import { connectEmulators } from "../../infra/sandbox/emulators.ts";
import { startSandbox } from "../../infra/sandbox/sandbox.ts";
import { loadSandboxConfig } from "../../lib/config.ts";

// The sandbox as `npm start` composes it (real handlers, HTTP front, SQS poller), but against the emulators
// process whose endpoints are argv[2] (JSON). Prints {url, key} as one JSON line, then runs until signalled.

const endpoints = JSON.parse(process.argv[2] ?? "") as { awsEndpoint: string; dynamoEndpoint: string };
const sandbox = await startSandbox(loadSandboxConfig(), { emulators: connectEmulators(endpoints) });
process.stdout.write(`${JSON.stringify({ url: sandbox.apiUrl, key: sandbox.apiKey })}\n`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    sandbox.stop().then(() => process.exit(0));
  });
}
