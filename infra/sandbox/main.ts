import { loadSandboxConfig } from "../../lib/config.ts";
import { startSandbox } from "./sandbox.ts";

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
  Admin key    ${sandbox.adminKey}   (${sandbox.apiUrl}/admin, ${adminNote})
  Provider     ${providerNote}
  Model        ${sandbox.defaultModel} (default)
  Emulators    S3 + SQS ${sandbox.awsEndpoint}, DynamoDB ${sandbox.dynamoEndpoint}
  Data         ${config.DATA_DIR}

  Try:  curl ${sandbox.apiUrl}/v1/images/generations -H "Authorization: Bearer ${sandbox.apiKey}" \\
          -H "Content-Type: application/json" -d '{"prompt":"a lighthouse at dawn","n":2}'

`);

let signals = 0;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (++signals > 1) {
      process.stdout.write("Forced exit.\n");
      process.exit(130);
    }
    process.stdout.write(`\n${signal}: finishing running jobs, then stopping...\n`);
    sandbox.stop().then(
      () => {
        process.stdout.write("Stopped cleanly.\n");
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`Stop failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  });
}
