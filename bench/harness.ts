import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FakeOpenAI, startFakeOpenAI } from "../test/support/fake-openai.ts";
import { sleep } from "./stats.ts";

// What the bench runs against: the fake provider (in this process, so its timings are read directly),
// the sandbox (a child process, as `npm start` runs it) and Portkey's gateway (another child process).

export const root = new URL("../", import.meta.url).pathname;
const portkeyDir = join(root, "bench/portkey");
const portkeyPackage = join(portkeyDir, "node_modules/@portkey-ai/gateway/package.json");

export interface Sandbox {
  url: string;
  key: string;
  emulators: { awsEndpoint: string; dynamoEndpoint: string };
  /** CPU used so far by the sandbox process and by the emulators process. */
  cpuMs(): { sandbox: number; emulators: number };
  stop(): Promise<void>;
}

export interface Portkey {
  url: string;
  version: string;
  stop(): Promise<void>;
}

export const providerKey = "sk-bench-not-a-real-key";

export function startProvider(): Promise<FakeOpenAI> {
  return startFakeOpenAI({ texture: process.env.BENCH_TEXTURE === "flat" ? "flat" : "photo" });
}

interface Child<T> {
  ready: T;
  /** CPU time (user + system) the process has used so far, from /proc. */
  cpuMs(): number;
  stop(): Promise<void>;
}

const clockTicksPerSecond = 100;

function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    // Fields after the command name: state is 3rd, utime 14th, stime 15th (man 5 proc).
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicksPerSecond;
  } catch {
    return Number.NaN;
  }
}

/** Runs a bench/children script and waits for the JSON line it prints once it is ready. */
export async function startChild<T>(
  script: string,
  args: string[],
  env: Record<string, string>,
): Promise<Child<T>> {
  // BENCH_CPU_PROF=dir: each child writes a V8 CPU profile there on exit (node --cpu-prof), to see where time goes.
  const profile = process.env.BENCH_CPU_PROF
    ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
    : [];
  const child: ChildProcess = spawn(
    process.execPath,
    [...profile, "--disable-warning=ExperimentalWarning", join(root, "bench/children", script), ...args],
    { cwd: root, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env } },
  );
  let out = "";
  let err = "";
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const ready = await new Promise<T>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line) {
        child.stdout?.off("data", onData);
        child.stdout?.resume();
        resolve(JSON.parse(line) as T);
      }
    };
    child.stdout?.on("data", onData);
    child.once("close", (code) =>
      reject(new Error(`${script} exited (${code}) before it was ready:\n${err}`)),
    );
  });
  return {
    ready,
    cpuMs: () => processCpuMs(child.pid),
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
      if (process.env.BENCH_DEBUG) process.stderr.write(err);
    },
  };
}

/**
 * The sandbox (API, worker and SQS poller in one process, as `npm start` runs them) against in-memory emulators in
 * a second process, with the real OpenAI adapter pointed at the fake provider.
 */
export async function startBenchSandbox(
  provider: FakeOpenAI,
  env: Record<string, string> = {},
): Promise<Sandbox> {
  const dataDir = await mkdtemp(join(tmpdir(), "bench-sandbox-"));
  const emulators = await startChild<{ awsEndpoint: string; dynamoEndpoint: string }>("emulators.ts", [], {});
  try {
    const sandbox = await startChild<{ url: string; key: string }>(
      "sandbox.ts",
      [JSON.stringify(emulators.ready)],
      {
        PORT: "0",
        DATA_DIR: dataDir,
        OPENAI_API_KEY: providerKey,
        OPENAI_BASE_URL: provider.baseURL,
        // Lambda scales out one invocation per message; 32 concurrent invocations match the c32 load.
        WORKER_CONCURRENCY: "32",
        PROVIDER_MAX_RETRIES: "0",
        LOG_LEVEL: "warn",
        LOG_FORMAT: "json",
        ...env,
      },
    );
    return {
      ...sandbox.ready,
      emulators: emulators.ready,
      cpuMs: () => ({ sandbox: sandbox.cpuMs(), emulators: emulators.cpuMs() }),
      async stop() {
        await sandbox.stop();
        await emulators.stop();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await emulators.stop();
    throw err;
  }
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** Installs the gateway from bench/portkey's own lockfile on first use; the product never depends on it. */
export function ensurePortkey(): string {
  if (!existsSync(portkeyPackage)) {
    process.stdout.write("Installing @portkey-ai/gateway for the bench (bench/portkey, once)...\n");
    const result = spawnSync("npm", ["ci", "--prefix", portkeyDir, "--no-audit", "--no-fund"], {
      stdio: ["ignore", "inherit", "inherit"],
    });
    if (result.status !== 0) throw new Error("npm ci --prefix bench/portkey failed");
  }
  return (JSON.parse(readFileSync(portkeyPackage, "utf8")) as { version: string }).version;
}

/** Portkey's gateway, headless and offline, on a free loopback port. */
export async function startPortkey(): Promise<Portkey> {
  const version = ensurePortkey();
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      join(portkeyDir, "node_modules/@portkey-ai/gateway/build/start-server.js"),
      `--port=${port}`,
      "--headless",
    ],
    { cwd: portkeyDir, stdio: ["ignore", "ignore", "pipe"], env: { PATH: process.env.PATH ?? "" } },
  );
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`Portkey did not start:\n${stderr}`);
    }
    await sleep(100);
  }
  return {
    url,
    version,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}
