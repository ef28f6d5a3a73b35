import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface SandboxProcess {
  url: string;
  key: string;
  adminKey: string;
  /** S3 and SQS (fauxqs), as the banner gives it. */
  awsEndpoint: string;
  dataDir: string;
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
    const aws = /S3 \+ SQS\s+(http:\/\/[^\s,]+)/.exec(out);
    if (api?.[1] && key?.[1] && adminKey?.[1] && aws?.[1]) {
      return {
        url: api[1],
        key: key[1],
        adminKey: adminKey[1],
        awsEndpoint: aws[1],
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
