import { describe, expect, it } from "vitest";
import { assertListensOn } from "../../infra/sandbox/emulators.ts";
import { listeningSockets } from "../support/proc.ts";
import { startSandboxProcess } from "../support/sandbox-process.ts";

// Issue 13, item 1: the emulators take no credentials, so nothing the sandbox starts may listen anywhere but HOST.
// fauxqs 2.4.1 listens on 0.0.0.0 whatever it is given, unless patched (patches/fauxqs+2.4.1.patch).

describe.runIf(process.platform === "linux")("where the sandbox listens", () => {
  it.each(["127.0.0.1", "127.0.0.2"])(
    "listens on HOST=%s only, on every port it opens, and answers there",
    async (host) => {
      const sandbox = await startSandboxProcess({ HOST: host });
      try {
        const ports = [sandbox.url, sandbox.awsEndpoint, sandbox.dynamoEndpoint].map((u) =>
          Number(new URL(u).port),
        );
        const sockets = await listeningSockets(sandbox.pid);
        // Exactly the API, S3 + SQS and DynamoDB, each on HOST: no wildcard (0.0.0.0, ::), no other address.
        expect(sockets.map((s) => s.port).sort()).toEqual([...ports].sort());
        expect(sockets.map((s) => s.address)).toEqual([host, host, host]);
        const models = await fetch(`${sandbox.url}/v1/models`, {
          headers: { authorization: `Bearer ${sandbox.key}` },
        });
        expect(models.status).toBe(200);
      } finally {
        await sandbox.stop();
      }
    },
  );
});

describe("the check that fauxqs is patched", () => {
  it("refuses an emulator that listens on every interface, or cannot say where it listens", async () => {
    await expect(assertListensOn("127.0.0.1", {})).rejects.toThrow(/patches\/ is not applied/);
    await expect(
      assertListensOn("127.0.0.1", { listening: { address: "0.0.0.0", family: "IPv4", port: 4566 } }),
    ).rejects.toThrow(/listens on 0\.0\.0\.0, not on HOST \(127\.0\.0\.1\)/);
    await expect(
      assertListensOn("localhost", { listening: { address: "127.0.0.1", family: "IPv4", port: 4566 } }),
    ).resolves.toBeUndefined();
  });
});
