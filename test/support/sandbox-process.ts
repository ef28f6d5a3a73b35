import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface SandboxProcess {
  url: string;
  key: string;
  adminKey: string;
  /** The sandbox's emulators: S3 and SQS, and DynamoDB. */
  awsEndpoint: string;
  dynamoEndpoint: string;
  dataDir: string;
  pid: number;
  output(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const root = new URL("../../", import.meta.url).pathname;

/** Runs `infra/sandbox/main.ts` as a user would (`npm start`), on random ports, and waits for its banner. */
export async function startSandboxProcess(
  env: Record<string, string> = {},
  dataDir?: string,
): Promise<SandboxProcess> {
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), "sandbox-")));
  const child: ChildProcess = spawn(
    process.execPath,
    ["--disable-warning=ExperimentalWarning", "infra/sandbox/main.ts"],
    {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        PORT: "0",
        EMULATOR_PORT: "0",
        DYNAMODB_PORT: "0",
        DATA_DIR: dir,
        LOG_LEVEL: "warn",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const started = Date.now();
  for (;;) {
    const api = /API\s+(http:\/\/\S+)\/v1/.exec(out);
    const key = /API key\s+(\S+)/.exec(out);
    const adminKey = /Admin key\s+(\S+)/.exec(out);
    const emulators = /S3 \+ SQS (\S+), DynamoDB (\S+)/.exec(out);
    if (api?.[1] && key?.[1] && adminKey?.[1] && emulators?.[1] && emulators[2]) {
      return {
        url: api[1],
        key: key[1],
        adminKey: adminKey[1],
        awsEndpoint: emulators[1],
        dynamoEndpoint: emulators[2],
        pid: child.pid ?? 0,
        dataDir: dir,
        output: () => out,
        stop: async (signal = "SIGTERM") => {
          child.kill(signal);
          return exited;
        },
      };
    }
    if (child.exitCode !== null || Date.now() - started > 30_000) {
      child.kill("SIGKILL");
      throw new Error(`Sandbox did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface WorkerProcess {
  pid: number;
  output(): string;
  /** Sends a signal and resolves with how the process ended. */
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs `infra/sandbox/worker.ts` (`npm run sandbox:worker`) against a sandbox's emulators; waits until it polls. */
export async function startWorkerProcess(
  sandbox: SandboxProcess,
  env: Record<string, string> = {},
): Promise<WorkerProcess> {
  const aws = new URL(sandbox.awsEndpoint);
  const dynamo = new URL(sandbox.dynamoEndpoint);
  const child: ChildProcess = spawn(
    process.execPath,
    ["--disable-warning=ExperimentalWarning", "infra/sandbox/worker.ts"],
    {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        HOST: aws.hostname,
        EMULATOR_PORT: aws.port,
        DYNAMODB_PORT: dynamo.port,
        DATA_DIR: sandbox.dataDir,
        LOG_LEVEL: "warn",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const started = Date.now();
  while (!/Worker \d+ is running/.test(out)) {
    if (child.exitCode !== null || Date.now() - started > 30_000) {
      child.kill("SIGKILL");
      throw new Error(`Worker did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    pid: child.pid ?? 0,
    output: () => out,
    kill: async (signal = "SIGTERM") => {
      child.kill(signal);
      return exited;
    },
  };
}
