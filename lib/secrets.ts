import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import * as z from "zod/mini";
import type { ServiceConfig } from "./config.ts";

/** What the stack stores in a new provider-key secret until the operator puts the real key there. */
export const unsetSecretValue = "unset";

// The secret holds the key itself, or JSON {"OPENAI_API_KEY": "..."} as the console's key/value editor writes it.
const keyObject = z.object({ OPENAI_API_KEY: z.string() });

export class SecretReadError extends Error {
  override name = "SecretReadError";
}

/**
 * Runs `read` with a Secrets Manager client: the one given (tests), or one made from the configuration for this
 * read alone and destroyed after it, since secrets are read once per cold start.
 */
export async function withSecretsClient<T>(
  config: Pick<ServiceConfig, "AWS_REGION" | "AWS_ENDPOINT_URL_SECRETS_MANAGER">,
  client: SecretsManagerClient | undefined,
  read: (client: SecretsManagerClient) => Promise<T>,
): Promise<T> {
  const endpoint = config.AWS_ENDPOINT_URL_SECRETS_MANAGER;
  const secrets =
    client ?? new SecretsManagerClient({ region: config.AWS_REGION, ...(endpoint && { endpoint }) });
  try {
    return await read(secrets);
  } finally {
    if (!client) secrets.destroy();
  }
}

/** The secret's text; a failed read names the secret and what it should hold, never a value. */
async function secretText(client: SecretsManagerClient, secretId: string, what: string): Promise<string> {
  try {
    const res = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    return (res.SecretString ?? "").trim();
  } catch (cause) {
    throw new SecretReadError(`Could not read the ${what} secret ${secretId}.`, { cause });
  }
}

/**
 * The provider key from Secrets Manager, or undefined while the secret still holds `unsetSecretValue` (or nothing).
 * Called once per cold start: the key is never in the function's environment, and never read per request.
 */
export async function readProviderKey(
  client: SecretsManagerClient,
  secretId: string,
): Promise<string | undefined> {
  const value = await secretText(client, secretId, "provider key");
  if (value === "" || value === unsetSecretValue) return undefined;
  if (!value.startsWith("{")) return value;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  const result = keyObject.safeParse(parsed);
  // Never echo the value: a malformed secret may still contain the key.
  if (!result.success)
    throw new SecretReadError(
      `The secret ${secretId} is JSON without a string OPENAI_API_KEY field. Store the key itself, or {"OPENAI_API_KEY":"sk-..."}.`,
    );
  const key = result.data.OPENAI_API_KEY.trim();
  return key === "" || key === unsetSecretValue ? undefined : key;
}

/** The admin key's own rule (lib/config.ts): long enough that guessing is hopeless. */
const adminKeyShape = z.string().check(z.minLength(32), z.maxLength(256));

/**
 * The admin key from Secrets Manager (the stack generates it), read once per cold start like the provider key.
 * A secret that holds something too short to be a key fails cold start rather than opening /admin to it.
 */
export async function readAdminKey(client: SecretsManagerClient, secretId: string): Promise<string> {
  const key = await secretText(client, secretId, "admin key");
  // Never echo the value.
  if (!adminKeyShape.safeParse(key).success)
    throw new SecretReadError(`The secret ${secretId} does not hold an admin key of 32 to 256 characters.`);
  return key;
}

/**
 * The CloudFront private key (PEM) that signs image URLs, read once per cold start like the admin key. A secret
 * that does not hold a PEM private key fails cold start, rather than every image URL later.
 */
export async function readCdnPrivateKey(client: SecretsManagerClient, secretId: string): Promise<string> {
  const key = await secretText(client, secretId, "CloudFront private key");
  // Never echo the value.
  if (!/^-----BEGIN (RSA |EC )?PRIVATE KEY-----[\s\S]+-----END (RSA |EC )?PRIVATE KEY-----$/.test(key))
    throw new SecretReadError(`The secret ${secretId} does not hold a PEM private key.`);
  return key;
}
