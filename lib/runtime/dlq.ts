import { DeadLetters } from "../jobs/dead-letters.ts";
import { createTracing } from "../tracing.ts";
import { jobStore, webhookQueue } from "./adapters.ts";
import { startFunction } from "./lambda.ts";
import type { Observability } from "./observability.ts";
import { type FunctionFactory, scope } from "./scope.ts";

/** The jobs DLQ's consumer: each dead message fails its job, so none is left queued or running forever. */
export interface DeadLettersRuntime {
  observability: Observability;
  deadLetters: DeadLetters;
}

export const createDeadLetters: FunctionFactory<DeadLettersRuntime> = (config, clients, options) => {
  const s = scope("dlq", config, clients, options);
  const deadLetters = new DeadLetters({
    store: jobStore(s),
    webhooks: webhookQueue(s),
    logger: s.observability.logger,
    metrics: s.observability.metrics,
    ...(s.options.now && { now: s.options.now }),
  });
  return { observability: s.observability, deadLetters };
};

export const startDeadLetters = () => startFunction("dlq", createDeadLetters, { tracing: createTracing });
