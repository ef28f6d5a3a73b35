import type { IdempotencyOptions } from "../api/idempotency.ts";
import type { ServiceName } from "../aws-calls.ts";
import type { ServiceConfig } from "../config.ts";
import type { AddressPolicy } from "../net/outbound.ts";
import { type Clients, clientsOf } from "./clients.ts";
import { createObservability, type Observability } from "./observability.ts";
import type { ProviderClientOptions } from "./providers.ts";

/** What a function's factory takes beyond its configuration and clients. Production sets `observability` alone. */
export interface RuntimeOptions {
  /** Made at cold start with the function's tracer (lib/runtime/lambda.ts); else from the configuration. */
  observability?: Observability;
  /** Where log lines go; stdout unless a test captures them. */
  logWrite?: (line: string) => void;
  /** In place of ALLOW_PRIVATE_URLS (image and webhook URLs): tests let a loopback server count as public. */
  urlPolicy?: AddressPolicy;
  idempotency?: Partial<IdempotencyOptions>;
  /** Credentials for the worker's own provider clients (Bedrock): the emulators' dummy ones in tests. */
  providerCredentials?: ProviderClientOptions["credentials"];
  /** The clock of the jobs, the webhooks and the inbox: a test's own, to move time on without waiting. */
  now?: () => number;
  /** The webhooks' retry jitter (0 to 1). */
  random?: () => number;
}

/**
 * Every function is made the same way: from its configuration and the process's clients. Lambda calls it once per
 * cold start (lib/runtime/lambda.ts), the sandbox through the same handlers, tests with the emulators' clients.
 */
export type FunctionFactory<R> = (config: ServiceConfig, clients: Clients, options?: RuntimeOptions) => R;

/** What one function's adapters are made from (lib/runtime/adapters.ts). */
export interface Scope {
  config: ServiceConfig;
  /** The process's clients, whose calls are recorded under this function's name (lib/aws-calls.ts). */
  clients: Clients;
  observability: Observability;
  urlPolicy: AddressPolicy;
  options: RuntimeOptions;
}

export function scope(
  service: ServiceName,
  config: ServiceConfig,
  clients: Clients,
  options: RuntimeOptions = {},
): Scope {
  return {
    config,
    clients: clientsOf(service, clients, config),
    observability:
      options.observability ??
      createObservability(config, service, { ...(options.logWrite && { write: options.logWrite }) }),
    urlPolicy: options.urlPolicy ?? config.ALLOW_PRIVATE_URLS,
    options,
  };
}
