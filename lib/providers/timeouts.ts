import { catalog, isShutDown, type ModelSpec } from "../catalog/catalog.ts";

// How long a job may take, from the slowest model a deployment serves (catalog data, `slowestCallSeconds`).
// docs/deploy.md walks through the figures.
//   provider timeout = the slowest call, with headroom, rounded up to 10 s: a call slower than that is a fault
//   worker timeout   = provider timeout + the time to store the images and record the outcome
//   lease            = worker timeout: a live worker's claim never lapses before Lambda would stop it
//   visibility       = 6 x worker timeout (infra/functions.ts): a message is not handed out again while its
//                      worker may still be running, as Lambda advises for SQS event sources

/** The figures are reports, and a provider under load is slower than on a quiet day. */
export const providerTimeoutHeadroom = 1.25;
/** After the provider answers: decode, re-encode and store up to ten large images, then record the outcome. */
export const storeSeconds = 60;
/** Lambda stops every function at 15 minutes. */
export const lambdaMaxSeconds = 900;

export interface JobTimeouts {
  /** The model that sized them, and its slowest call. */
  slowest: { model: string; seconds: number };
  providerSeconds: number;
  /** The worker function's timeout, which is also its lease on a running job. */
  workerSeconds: number;
}

/** Timeouts for a deployment serving `models`; models shut down by `now` do not count. */
export function jobTimeouts(models: readonly ModelSpec[], now = new Date()): JobTimeouts {
  const live = models.filter((m) => !isShutDown(m, now));
  const slowest = live.reduce<ModelSpec | undefined>(
    (a, m) => (a && a.slowestCallSeconds >= m.slowestCallSeconds ? a : m),
    undefined,
  );
  if (!slowest) throw new Error("No live model to size the timeouts by");
  const providerSeconds = Math.ceil((slowest.slowestCallSeconds * providerTimeoutHeadroom) / 10) * 10;
  return {
    slowest: { model: slowest.id, seconds: slowest.slowestCallSeconds },
    providerSeconds,
    workerSeconds: providerSeconds + storeSeconds,
  };
}

/** The defaults of the functions and the sandbox, which may serve any catalogued model. */
export const defaultJobTimeouts = jobTimeouts(catalog);
