import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { childrenOf } from "./proc.ts";

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
  const p = spawnScript("infra/sandbox/main.ts", sandboxEnv(dir, env));
  return { ...(await bannerOf(p)), pid: p.child.pid ?? 0, dataDir: dir, output: p.output, stop: stopper(p) };
}

export interface NpmStartProcess extends SandboxProcess {
  /** The process `npm start` started for the script (`pid` is npm's own). */
  scriptPid: number;
}

/**
 * `npm start` itself, as a user runs it, on random ports, in a process group of its own (so a test can send a
 * signal to the whole group, as a terminal's Ctrl-C does). Waits for the banner.
 */
export async function startNpmStart(env: Record<string, string> = {}): Promise<NpmStartProcess> {
  const dir = await mkdtemp(join(tmpdir(), "sandbox-"));
  const p = spawnProcess("npm", ["start"], sandboxEnv(dir, env), { detached: true });
  const banner = await bannerOf(p);
  const npmPid = p.child.pid ?? 0;
  const [scriptPid = 0] = await childrenOf(npmPid);
  return { ...banner, pid: npmPid, scriptPid, dataDir: dir, output: p.output, stop: stopper(p) };
}

function sandboxEnv(dataDir: string, env: Record<string, string>): Record<string, string> {
  return { PORT: "0", EMULATOR_PORT: "0", DYNAMODB_PORT: "0", DATA_DIR: dataDir, ...env };
}

function stopper(p: ScriptProcess): SandboxProcess["stop"] {
  return async (signal = "SIGTERM") => (await p.kill(signal)).code;
}

async function bannerOf(p: ScriptProcess) {
  return started(p, "Sandbox", (out) => {
    const api = /API\s+(http:\/\/\S+)\/v1/.exec(out);
    const key = /API key\s+(\S+)/.exec(out);
    const adminKey = /Admin key\s+(\S+)/.exec(out);
    const emulators = /S3 \+ SQS (\S+), DynamoDB (\S+)/.exec(out);
    if (!api?.[1] || !key?.[1] || !adminKey?.[1] || !emulators?.[1] || !emulators[2]) return undefined;
    return {
      url: api[1],
      key: key[1],
      adminKey: adminKey[1],
      awsEndpoint: emulators[1],
      dynamoEndpoint: emulators[2],
    };
  });
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
  const p = spawnScript("infra/sandbox/worker.ts", {
    HOST: aws.hostname,
    EMULATOR_PORT: aws.port,
    DYNAMODB_PORT: dynamo.port,
    DATA_DIR: sandbox.dataDir,
    ...env,
  });
  await started(p, "Worker", (out) => (/Worker \d+ is running/.test(out) ? true : undefined));
  return { pid: p.child.pid ?? 0, output: p.output, kill: p.kill };
}

interface ScriptProcess {
  child: ChildProcess;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  /** Sends a signal and resolves with how the process ended. */
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs one of the repository's scripts with Node, with `env` over a bare environment, and collects its output. */
function spawnScript(script: string, env: Record<string, string>): ScriptProcess {
  return spawnProcess(process.execPath, ["--disable-warning=ExperimentalWarning", script], env);
}

function spawnProcess(
  command: string,
  args: string[],
  env: Record<string, string>,
  options: { detached?: boolean } = {},
): ScriptProcess {
  const child: ChildProcess = spawn(command, args, {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      LOG_LEVEL: "warn",
      // The sandbox's functions record their AWS calls too (vitest.config.ts, test/infra/grants.test.ts).
      ...(process.env.AWS_CALL_LOG_DIR && { AWS_CALL_LOG_DIR: process.env.AWS_CALL_LOG_DIR }),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: options.detached ?? false,
  });
  let out = "";
  const collect = (d: Buffer) => {
    out += d.toString();
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => out,
    kill: async (signal = "SIGTERM") => {
      child.kill(signal);
      return exited;
    },
  };
}

/** Waits until `ready` finds what it needs in the output; fails with the output if the process exits or 30 s pass. */
async function started<T>(p: ScriptProcess, what: string, ready: (out: string) => T | undefined): Promise<T> {
  const since = Date.now();
  for (;;) {
    const found = ready(p.output());
    if (found !== undefined) return found;
    if (p.child.exitCode !== null || Date.now() - since > 30_000) {
      p.child.kill("SIGKILL");
      throw new Error(`${what} did not start:\n${p.output()}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
