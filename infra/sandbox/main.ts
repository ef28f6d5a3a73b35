import { loadSandboxConfig } from "../../lib/config.ts";
import { startSandbox } from "./sandbox.ts";
import { stopOnSignals } from "./shutdown.ts";

const config = loadSandboxConfig();
const sandbox = await startSandbox(config);

const keyNote = (variable: string, file: string) =>
  ({
    env: `from ${variable}`,
    generated: `generated and kept in ${config.DATA_DIR}/${file}`,
    kept: `kept in ${config.DATA_DIR}/${file}`,
  }) as const;
const localNote = keyNote("LOCAL_API_KEY", "local-api-key")[sandbox.keySource];
const adminNote = keyNote("ADMIN_API_KEY", "admin-api-key")[sandbox.adminKeySource];
const providerNote =
  sandbox.provider === "placeholder"
    ? "placeholder (offline, no key needed; set OPENAI_API_KEY for real images)"
    : sandbox.provider;

process.stdout.write(`
  Image service sandbox is running.

  Playground   ${sandbox.apiUrl}/   (open it in a browser; it asks for the key below)
  API          ${sandbox.apiUrl}/v1
  API key      ${sandbox.apiKey}   (tenant "local", ${localNote})
  Admin key    ${sandbox.adminKey}   (for /admin/keys and /admin/usage, ${adminNote})
  Provider     ${providerNote}
  Providers    ${sandbox.providers.join(", ")} (a job's "model" picks one; GET /v1/models lists them)
  Model        ${sandbox.defaultModel} (default)
  Emulators    S3 + SQS ${sandbox.awsEndpoint}, DynamoDB ${sandbox.dynamoEndpoint}
  Data         ${config.DATA_DIR}${config.RUN_WORKER ? "" : "\n  Worker       none in this process (RUN_WORKER=false): start them with npm run sandbox:worker"}

  Try:  curl ${sandbox.apiUrl}/v1/images/generations -H "Authorization: Bearer ${sandbox.apiKey}" \\
          -H "Content-Type: application/json" -d '{"prompt":"a lighthouse at dawn","n":2}'

`);

stopOnSignals(() => sandbox.stop(), process.stdout);
