import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { recordAwsCalls, type ServiceName } from "../aws-calls.ts";
import type { ServiceConfig } from "../config.ts";
import { readAdminKey, readProviderKey, withSecretsClient } from "../secrets.ts";
import { createServiceLogger } from "./observability.ts";

// Keys kept in Secrets Manager, read once per cold start into the configuration: never in a function's environment.

/**
 * Reads the provider key from Secrets Manager when the configuration names a secret (in AWS), once per cold
 * start, and returns the configuration with it. The key never sits in the function's environment.
 */
export async function withProviderKey(
  config: ServiceConfig,
  service: ServiceName,
  client?: SecretsManagerClient,
): Promise<ServiceConfig> {
  const arn = config.OPENAI_API_KEY_SECRET_ARN;
  if (!arn) return config;
  const key = await withSecretsClient(config, client, (secrets) =>
    readProviderKey(recordAwsCalls(secrets, service, config), arn),
  );
  if (key) return { ...config, OPENAI_API_KEY: key };
  createServiceLogger(config, "config").warn(
    "The provider key secret holds no key yet; OpenAI models are unavailable until it is set",
    { secretArn: arn },
  );
  return config;
}

/**
 * Reads the keys of upstreams kept in Secrets Manager (`api_key_secret_arn`), once per cold start: for the
 * worker, the only function that calls them (the API routes by configuration alone). A secret that still holds
 * the stack's marker leaves its upstream keyless, and its calls fail as unauthenticated, with a warning here.
 */
export async function withUpstreamKeys(
  config: ServiceConfig,
  service: ServiceName,
  client?: SecretsManagerClient,
): Promise<ServiceConfig> {
  const upstreams = config.OPENAI_COMPATIBLE_UPSTREAMS;
  if (!upstreams?.some((u) => u.api_key_secret_arn !== undefined)) return config;
  const resolved = await withSecretsClient(config, client, (secrets) =>
    Promise.all(
      upstreams.map(async (u) => {
        if (u.api_key_secret_arn === undefined) return u;
        const key = await readProviderKey(recordAwsCalls(secrets, service, config), u.api_key_secret_arn);
        if (!key) {
          createServiceLogger(config, "config").warn("An upstream's key secret holds no key yet", {
            upstream: u.name,
            secretArn: u.api_key_secret_arn,
          });
        }
        return { ...u, api_key: key };
      }),
    ),
  );
  return { ...config, OPENAI_COMPATIBLE_UPSTREAMS: resolved };
}

/**
 * Reads the admin key from Secrets Manager when the configuration names its secret (in AWS), once per cold
 * start, so the key is never in the function's environment.
 */
export async function withAdminKey(
  config: ServiceConfig,
  service: ServiceName,
  client?: SecretsManagerClient,
): Promise<ServiceConfig> {
  const arn = config.ADMIN_API_KEY_SECRET_ARN;
  if (!arn) return config;
  return {
    ...config,
    ADMIN_API_KEY: await withSecretsClient(config, client, (secrets) =>
      readAdminKey(recordAwsCalls(secrets, service, config), arn),
    ),
  };
}
