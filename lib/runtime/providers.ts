import type { Tracer } from "@aws-lambda-powertools/tracer";
import { recordOwnAwsCalls, type ServiceName } from "../aws-calls.ts";
import { catalog } from "../catalog/catalog.ts";
import { ConfigError, type ServiceConfig } from "../config.ts";
import type { ImageProvider } from "../jobs/ports/provider.ts";
import { ProviderRegistry, RegistryConfigError } from "../jobs/registry.ts";
import type { Logger } from "../logging.ts";
import { createBedrockProvider } from "../providers/bedrock.ts";
import { OpenAIProvider } from "../providers/openai.ts";
import { PlaceholderProvider } from "../providers/placeholder.ts";
import { upstreamModels } from "../providers/upstreams.ts";

// The API and the inbox never reach OpenAIProvider (they route by provider name), so the openai SDK stays out of
// their bundles (package.json declares "sideEffects": false: a bundle holds only what its handler reaches).

/** The providers a configuration enables, by name: the placeholder first, as the registry expects. */
export function enabledProviders(config: ServiceConfig): string[] {
  return [
    "placeholder",
    ...(config.OPENAI_API_KEY || config.OPENAI_ENABLED ? ["openai"] : []),
    ...(config.BEDROCK_REGION ? ["bedrock"] : []),
    ...(config.OPENAI_COMPATIBLE_UPSTREAMS ?? []).map((u) => u.name),
  ];
}

/** What tests hand the worker's own AWS clients (Bedrock); in Lambda the role's credentials apply. */
export interface ProviderClientOptions {
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  tracer?: Tracer;
  /** The function whose calls these are, for the AWS call log (lib/aws-calls.ts). */
  service?: ServiceName;
}

/** The provider implementations, for functions that call providers (the worker). Same names, same order. */
export function createProviders(
  config: ServiceConfig,
  logger?: Logger,
  options: ProviderClientOptions = {},
): ImageProvider[] {
  const providers: ImageProvider[] = [
    new PlaceholderProvider({ partialIntervalMs: config.PLACEHOLDER_PARTIAL_INTERVAL_MS }),
  ];
  const openAI = (name: string, apiKey: string, baseURL: string | undefined) =>
    new OpenAIProvider({
      name,
      apiKey,
      baseURL,
      timeoutMs: config.PROVIDER_TIMEOUT_MS,
      maxRetries: config.PROVIDER_MAX_RETRIES,
      logger: logger?.child({ component: `${name}-sdk` }),
      logLevel: config.LOG_LEVEL === "silent" ? "off" : config.LOG_LEVEL,
    });
  if (config.OPENAI_API_KEY) providers.push(openAI("openai", config.OPENAI_API_KEY, config.OPENAI_BASE_URL));
  if (config.BEDROCK_REGION) {
    // The client is made in bedrock.ts: an import of it here would follow runtime.ts into the API's bundle.
    const bedrock = createBedrockProvider({
      region: config.BEDROCK_REGION,
      endpoint: config.AWS_ENDPOINT_URL_BEDROCK_RUNTIME,
      credentials: options.credentials,
      timeoutMs: config.PROVIDER_TIMEOUT_MS,
      maxRetries: config.PROVIDER_MAX_RETRIES,
    });
    options.tracer?.captureAWSv3Client(bedrock.client);
    if (options.service) recordOwnAwsCalls(bedrock.client, options.service, config);
    providers.push(bedrock.provider);
  }
  for (const u of config.OPENAI_COMPATIBLE_UPSTREAMS ?? []) {
    // The SDK insists on a key; servers that take none ignore the header.
    providers.push(openAI(u.name, u.api_key ?? "none", u.base_url));
  }
  return providers;
}

/** Providers by name only, for functions that route jobs but never call a provider (the API). */
export function routedProviders(config: ServiceConfig): ImageProvider[] {
  return enabledProviders(config).map((name) => {
    const refuse = () => Promise.reject(new Error(`The ${name} provider is called by the worker, not here.`));
    return { name, generate: refuse, edit: refuse };
  });
}

/**
 * The models this configuration serves and how requests reach them: the catalog (Bedrock's limited to
 * BEDROCK_MODELS), the configured upstreams' models, tenants' defaults and fallbacks. A name that matches no
 * model fails here, at cold start.
 */
export function createRegistry(config: ServiceConfig, providers: readonly ImageProvider[]): ProviderRegistry {
  const realProviders = providers.length > 1;
  const bedrockModels = config.BEDROCK_MODELS;
  try {
    return new ProviderRegistry({
      providers,
      models: bedrockModels
        ? catalog.filter((m) => m.provider !== "bedrock" || bedrockModels.includes(m.id))
        : catalog,
      extraModels: upstreamModels(config.OPENAI_COMPATIBLE_UPSTREAMS ?? []),
      // Offline, the placeholder answers for OpenAI's models; Bedrock's and upstreams' appear once configured.
      standIn: !realProviders && config.PLACEHOLDER_FALLBACK ? providers[0] : undefined,
      standInFor: ["openai"],
      defaultModel: config.DEFAULT_MODEL,
      tenantDefaults: config.TENANT_DEFAULT_MODELS,
      fallbacks: config.MODEL_FALLBACKS,
    });
  } catch (err) {
    if (err instanceof RegistryConfigError)
      throw new ConfigError(`Invalid service configuration: ${err.message}`, { cause: err });
    throw err;
  }
}
