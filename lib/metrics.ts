import type { Console } from "node:console";
import { MetricUnit, Metrics as PowertoolsMetrics } from "@aws-lambda-powertools/metrics";
import { consoleTo } from "./logging.ts";

// Business metrics, recorded where the events happen (lib/jobs) through this interface. In Lambda they are
// CloudWatch Embedded Metric Format lines written by Powertools Metrics and flushed once per invocation; the
// stack's alarms and dashboard read them. The sandbox records nothing; tests inject a recorder.

/** Each metric's name and unit: the dashboard and alarms (infra/constructs/dashboard.ts, alarms.ts) use the same names. */
export const metricUnits = {
  JobsCreated: MetricUnit.Count,
  JobsSucceeded: MetricUnit.Count,
  JobsFailed: MetricUnit.Count,
  ImagesProduced: MetricUnit.Count,
  /** Wall time of a job's provider calls (they run concurrently). */
  ProviderLatency: MetricUnit.Milliseconds,
  /** From the job's creation to its success: what a caller waits. */
  EndToEndLatency: MetricUnit.Milliseconds,
  /** S3 uploads under inbox/ that no job could be made for (unknown tenant, bad key, not an S3 event). */
  InboxRejected: MetricUnit.Count,
} as const;

export type MetricName = keyof typeof metricUnits;

export interface Metrics {
  record(name: MetricName, value: number): void;
}

export const noMetrics: Metrics = { record: () => undefined };

/** EMF through Powertools. `write` replaces stdout (tests). */
export function createEmfMetrics(options: {
  namespace: string;
  service: string;
  write?: (line: string) => void;
}): { metrics: Metrics; powertools: PowertoolsMetrics } {
  const powertools = new PowertoolsMetrics({ namespace: options.namespace, serviceName: options.service });
  if (options.write) (powertools as unknown as { console: Console }).console = consoleTo(options.write);
  return {
    metrics: { record: (name, value) => powertools.addMetric(name, metricUnits[name], value) },
    powertools,
  };
}
