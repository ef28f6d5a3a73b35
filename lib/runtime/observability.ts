import { configSecrets, type ServiceConfig } from "../config.ts";
import { createJsonLogger, createLogger, type Logger } from "../logging.ts";
import { createEmfMetrics, noMetrics } from "../metrics.ts";
import type { Observability } from "../middleware/observability.ts";
import type { Tracing } from "../tracing.ts";

export type { Observability } from "../middleware/observability.ts";

/** A logger outside any function's handler (at cold start), to stdout. */
export function createServiceLogger(config: ServiceConfig, service: string): Logger {
  return createLogger({
    level: config.LOG_LEVEL,
    format: config.LOG_FORMAT,
    service,
    // Masked wherever they appear, whatever their shape.
    secrets: configSecrets(config),
  });
}

/**
 * A function's logs, metrics and traces; its middy chain (lib/middleware/observability.ts) puts them around the
 * handler. `write` receives log and EMF lines instead of stdout (tests). `tracing` (from lib/tracing.ts) is passed
 * in by the functions that trace, so the others' bundles leave the X-Ray SDK out.
 */
export function createObservability(
  config: ServiceConfig,
  service: string,
  options: { write?: (line: string) => void; tracing?: Tracing | undefined } = {},
): Observability {
  const loggerOptions = {
    level: config.LOG_LEVEL,
    service,
    secrets: configSecrets(config),
    ...(options.write && { write: options.write }),
  };
  const json =
    config.LOG_FORMAT === "json" ? createJsonLogger({ ...loggerOptions, format: "json" }) : undefined;
  const emf = config.METRICS_NAMESPACE
    ? createEmfMetrics({
        namespace: config.METRICS_NAMESPACE,
        service,
        ...(options.write && { write: options.write }),
      })
    : undefined;
  return {
    logger: json?.logger ?? createLogger({ ...loggerOptions, format: "pretty" }),
    metrics: emf?.metrics ?? noMetrics,
    tracer: options.tracing?.tracer,
    powertools: {
      ...(json && { logger: json.powertools }),
      ...(emf && { metrics: emf.powertools }),
      ...(options.tracing && { tracing: options.tracing }),
    },
  };
}
