import type { ServiceName } from "../aws-calls.ts";
import { loadConfig, type ServiceConfig } from "../config.ts";
import type { Tracing } from "../tracing.ts";
import { createClients } from "./clients.ts";
import { createObservability } from "./observability.ts";
import type { FunctionFactory } from "./scope.ts";

/**
 * A Lambda function's cold start, the same for each: parse the configuration (a bad value fails here, not on the
 * first event), read the function's secrets once, load its tracer if it traces, make the clients once, then the
 * function. `tracing` is lib/tracing.ts's createTracing, passed by the functions that trace, so the others'
 * bundles leave the X-Ray SDK out.
 */
export async function startFunction<R>(
  service: ServiceName,
  factory: FunctionFactory<R>,
  options: {
    secrets?: ((config: ServiceConfig, service: ServiceName) => Promise<ServiceConfig>)[];
    tracing?: (config: ServiceConfig, service: string) => Promise<Tracing | undefined>;
  } = {},
): Promise<R> {
  let config = loadConfig();
  for (const read of options.secrets ?? []) config = await read(config, service);
  const tracing = await options.tracing?.(config, service);
  const observability = createObservability(config, service, { tracing });
  const clients = createClients(config, { tracer: observability.tracer });
  return factory(config, clients, { observability });
}
