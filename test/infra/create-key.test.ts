import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot } from "../../infra/bundling.ts";
import { KeyStore } from "../../lib/auth/keys.ts";
import { startTestStack, type TestStack } from "../support/emulators.ts";

// `npm run create-key` against a table, as a new deployer runs it (the SDK's endpoint variable points it here).

function run(args: string[], env: Record<string, string>) {
  const child = spawn(
    process.execPath,
    ["--disable-warning=ExperimentalWarning", "infra/create-key.ts", ...args],
    { cwd: projectRoot, env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    out += d.toString();
  });
  return new Promise<{ code: number | null; out: string }>((resolve) =>
    child.once("exit", (code) => resolve({ code, out })),
  );
}

describe("npm run create-key", () => {
  let stack: TestStack;
  let env: Record<string, string>;

  beforeAll(async () => {
    stack = await startTestStack();
    env = {
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_ENDPOINT_URL_DYNAMODB: stack.emulators.dynamoEndpoint,
    };
  });
  afterAll(async () => {
    await stack?.emulators.stop();
  });

  it("stores a tenant's key that the API then accepts, and prints it once", async () => {
    const { code, out } = await run(["--table", stack.names.table, "--tenant", "acme", "--name", "ci"], env);
    expect(code).toBe(0);
    const key = /\b(sk-img-\S+)/.exec(out)?.[1] ?? "";
    expect(out.split(key).length - 1).toBe(1);
    const principal = await new KeyStore(stack.emulators.clients.dynamodb, stack.names.table).authenticate(
      key,
    );
    expect(principal?.tenant).toBe("acme");
  });

  it("refuses a bad tenant name or a missing table, and stores nothing", async () => {
    const bad = await run(["--table", stack.names.table, "--tenant", "Not A Tenant"], env);
    expect(bad.code).toBe(2);
    expect(bad.out).toContain("Invalid tenant");
    const missing = await run(["--tenant", "acme"], env);
    expect(missing.code).toBe(2);
    expect(missing.out).toContain("Usage: npm run create-key");
    expect(`${bad.out}${missing.out}`).not.toMatch(/sk-img-/);
  });
});
