import type { Logger as PowertoolsLogger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import type { Metrics as PowertoolsMetrics } from "@aws-lambda-powertools/metrics";
import type { Tracer } from "@aws-lambda-powertools/tracer";
import type { MiddlewareObj } from "@middy/core";
import type { Logger } from "../logging.ts";
import type { Metrics } from "../metrics.ts";
import type { Tracing } from "../tracing.ts";

// Logs, metrics and traces around every function's handler, as middy middlewares. Every function runs the same
// chain wherever it runs (Lambda, the sandbox, tests); a middleware whose setting is off does nothing.

/** Logs, metrics and traces for one function. Powertools in Lambda; readable lines and nothing else in the sandbox. */
export interface Observability {
  logger: Logger;
  metrics: Metrics;
  tracer: Tracer | undefined;
  /** The Powertools instances behind them, each present only when its setting is on. */
  powertools: {
    /** LOG_FORMAT=json. */
    logger?: PowertoolsLogger;
    /** METRICS_NAMESPACE. */
    metrics?: PowertoolsMetrics;
    /** TRACING (lib/tracing.ts), in the functions that trace. */
    tracing?: Tracing;
  };
}

// biome-ignore lint/suspicious/noExplicitAny: a middleware that does nothing fits every handler's types.
type AnyMiddleware = MiddlewareObj<any, any>;

/** What a middleware whose setting is off is: middy wants at least one hook. */
const nothing: AnyMiddleware = { before: () => undefined };

/** Traces the handler in X-Ray (Powertools Tracer), without copying its response (presigned URLs, base64 images). */
export function traceHandler(o: Observability): AnyMiddleware {
  return o.powertools.tracing?.middleware ?? nothing;
}

/** Adds the Lambda context (function, request id, cold start) to every log line (Powertools Logger). */
export function logContext(o: Observability): AnyMiddleware {
  return o.powertools.logger ? injectLambdaContext(o.powertools.logger) : nothing;
}

/**
 * Records the cold start and flushes the invocation's metrics as EMF after it, whether it succeeded or failed.
 * Not Powertools' `logMetrics`: it warns on every invocation that recorded nothing; this flushes only what exists.
 */
export function flushMetrics(o: Observability): AnyMiddleware {
  const emf = o.powertools.metrics;
  if (!emf) return nothing;
  const flush = () => {
    if (emf.hasStoredMetrics()) emf.publishStoredMetrics();
  };
  return {
    before: (request) => emf.captureColdStartMetric(request.context.functionName),
    after: flush,
    onError: flush,
  };
}
