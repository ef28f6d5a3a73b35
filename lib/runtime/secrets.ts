import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { recordAwsCalls, type ServiceName } from "../aws-calls.ts";
import { ConfigError, type ServiceConfig } from "../config.ts";
import { readAdminKey, readCdnPrivateKey, readProviderKey, withSecretsClient } from "../secrets.ts";
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

/**
 * Reads the values of pooled provider keys kept in Secrets Manager (`api_key_secret_arn` in PROVIDER_RATE_LIMITS),
 * once per cold start: for the worker, the only function that calls providers. A secret that still holds the
 * stack's marker fails cold start: a pooled key without a value would call the provider with another key's quota.
 */
export async function withPooledKeys(
  config: ServiceConfig,
  service: ServiceName,
  client?: SecretsManagerClient,
): Promise<ServiceConfig> {
  const pools = config.PROVIDER_RATE_LIMITS;
  if (!pools || !Object.values(pools).some((keys) => keys.some((k) => k.api_key_secret_arn !== undefined)))
    return config;
  const resolved = await withSecretsClient(config, client, async (secrets) => {
    const recorded = recordAwsCalls(secrets, service, config);
    return Object.fromEntries(
      await Promise.all(
        Object.entries(pools).map(async ([provider, keys]) => [
          provider,
          await Promise.all(
            keys.map(async (k) => {
              if (k.api_key_secret_arn === undefined) return k;
              const value = await readProviderKey(recorded, k.api_key_secret_arn);
              if (!value)
                throw new ConfigError(
                  `Invalid service configuration: the secret of PROVIDER_RATE_LIMITS key '${k.name}' of '${provider}' holds no key yet (${k.api_key_secret_arn}).`,
                );
              return { ...k, api_key: value };
            }),
          ),
        ]),
      ),
    ) as NonNullable<ServiceConfig["PROVIDER_RATE_LIMITS"]>;
  });
  return { ...config, PROVIDER_RATE_LIMITS: resolved };
}

/**
 * Reads the CloudFront private key that signs image URLs from Secrets Manager when the configuration names its
 * secret (in AWS), once per cold start: for the functions that hand out image URLs (the API, webhooks).
 */
export async function withCdnKey(
  config: ServiceConfig,
  service: ServiceName,
  client?: SecretsManagerClient,
): Promise<ServiceConfig> {
  const arn = config.IMAGE_CDN_PRIVATE_KEY_SECRET_ARN;
  if (!arn) return config;
  return {
    ...config,
    IMAGE_CDN_PRIVATE_KEY: await withSecretsClient(config, client, (secrets) =>
      readCdnPrivateKey(recordAwsCalls(secrets, service, config), arn),
    ),
  };
}
