import { readFile } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { isAlive, listeningPorts } from "../support/proc.ts";
import { type NpmStartProcess, startNpmStart } from "../support/sandbox-process.ts";

// Issue 13, item 6: `npm start` in the background, stopped by its PID. SIGINT or SIGTERM, to npm or to the process
// npm started, stops the whole sandbox cleanly (running jobs finish, then it stops), as Ctrl-C in a terminal does,
// and leaves no process behind holding a port.

const bound = 15_000;

async function gone(pids: number[], ports: number[]): Promise<void> {
  const until = Date.now() + bound;
  for (;;) {
    const alive = (await Promise.all(pids.map(isAlive))).some(Boolean);
    const held = [...(await listeningPorts())].filter((p) => ports.includes(p));
    if (!alive && held.length === 0) return;
    if (Date.now() > until) {
      throw new Error(
        `After ${bound} ms: processes alive ${alive}, ports still listening ${held.join(", ")}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.runIf(process.platform === "linux")("stopping npm start by PID", () => {
  let npm: NpmStartProcess | undefined;
  afterEach(async () => {
    // What a failed case left running: npm (a no-op once it has exited) and the sandbox, if it is still ours.
    if (!npm) return;
    const cmdline = await readFile(`/proc/${npm.scriptPid}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes("infra/sandbox/")) process.kill(npm.scriptPid, "SIGKILL");
    await npm.stop("SIGKILL");
    npm = undefined;
  });

  it.each([
    ["SIGTERM", "npm"],
    ["SIGINT", "npm"],
    ["SIGTERM", "the process npm started"],
    ["SIGINT", "the terminal's process group (Ctrl-C)"],
  ] as const)("%s to %s stops the sandbox cleanly and releases every port", async (signal, target) => {
    npm = await startNpmStart();
    const { pid, scriptPid } = npm;
    // npm runs the sandbox itself, not a shell that runs it.
    expect(scriptPid).toBeGreaterThan(0);
    const ports = [npm.url, npm.awsEndpoint, npm.dynamoEndpoint].map((u) => Number(new URL(u).port));
    expect(ports.every((p) => p > 0)).toBe(true);
    const before = await listeningPorts();
    expect(ports.every((p) => before.has(p))).toBe(true);

    if (target === "npm") process.kill(pid, signal);
    else if (target === "the process npm started") process.kill(scriptPid, signal);
    else process.kill(-pid, signal);
    await gone([pid, scriptPid], ports);
    expect(npm.output()).toContain(`${signal}: finishing running jobs, then stopping...`);
    expect(npm.output()).toContain("Stopped cleanly.");
    expect(npm.output()).not.toContain("Forced exit");
  });
});
