import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeSecretsManager {
  endpoint: string;
  /** Secret ARNs → SecretString. */
  secrets: Map<string, string>;
  /** GetSecretValue calls received, by SecretId. */
  reads: string[];
  /** Makes the next calls answer AccessDeniedException. */
  denyAccess(deny: boolean): void;
  close(): Promise<void>;
}

export const secretArn = (name: string) =>
  `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}-AbCdEf`;

/**
 * Secrets Manager's GetSecretValue over its real wire protocol (AWS JSON 1.1: POST /, X-Amz-Target), so the
 * AWS SDK client does the talking. No emulator here serves Secrets Manager.
 */
export async function startFakeSecretsManager(): Promise<FakeSecretsManager> {
  const secrets = new Map<string, string>();
  const reads: string[] = [];
  let deny = false;
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
      res.end(JSON.stringify(body));
    };
    const target = req.headers["x-amz-target"];
    if (req.method !== "POST" || target !== "secretsmanager.GetSecretValue") {
      return send(400, { __type: "UnknownOperationException", message: `Unsupported ${String(target)}` });
    }
    const { SecretId } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { SecretId: string };
    reads.push(SecretId);
    if (deny) {
      return send(400, {
        __type: "AccessDeniedException",
        message: `User is not authorized to perform: secretsmanager:GetSecretValue on resource: ${SecretId}`,
      });
    }
    const value = secrets.get(SecretId);
    if (value === undefined) {
      return send(400, {
        __type: "ResourceNotFoundException",
        message: "Secrets Manager can't find the specified secret.",
      });
    }
    send(200, {
      ARN: SecretId,
      Name: SecretId.split(":").at(-1),
      SecretString: value,
      VersionId: "00000000-0000-0000-0000-000000000001",
      VersionStages: ["AWSCURRENT"],
      CreatedDate: Math.floor(Date.now() / 1000),
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    secrets,
    reads,
    denyAccess: (d) => {
      deny = d;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
