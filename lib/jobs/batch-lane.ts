import { parseSize } from "../catalog/catalog.ts";
import type { TokenUsage } from "../catalog/prices.ts";
import type { Logger } from "../logging.ts";
import {
  type BatchApi,
  type BatchRequest,
  type BatchResult,
  type BatchState,
  batchCustomId,
  batchEnded,
} from "./batch.ts";
import type { BatchStore, OpenBatch } from "./batch-store.ts";
import { isTerminal, type Job, type JobError, type JobOf } from "./model.ts";
import { sizeFor } from "./operations/fallback.ts";
import { generateCall } from "./operations/generate.ts";
import { splitCount } from "./operations/output.ts";
import type { Execution } from "./operations/types.ts";
import { ProviderError } from "./ports/provider.ts";
import type { ProviderRegistry } from "./registry.ts";
import { type BatchSubmitter, type JobRunner, toJobError } from "./runner.ts";
import type { JobStore } from "./store.ts";

// The batch lane through a provider's Batch API (issue 16, §3; docs/batch-lane.md). The worker submits a
// batch-priority generation as one batch and returns; the batch poller, on a schedule, settles the jobs whose
// batches ended. The job is `running` from the submission until then, and its view shows the batch's status.

/** Sends batch-priority generations of one provider's models through its Batch API. */
export class BatchLane implements BatchSubmitter {
  readonly #api: BatchApi;
  readonly #batches: BatchStore;
  readonly #registry: ProviderRegistry;
  readonly #provider: string;
  readonly #now: () => number;

  constructor(deps: {
    api: BatchApi;
    batches: BatchStore;
    registry: ProviderRegistry;
    /** The provider whose jobs go this way ("openai"). */
    provider: string;
    now?: () => number;
  }) {
    this.#api = deps.api;
    this.#batches = deps.batches;
    this.#registry = deps.registry;
    this.#provider = deps.provider;
    this.#now = deps.now ?? Date.now;
  }

  /** Generations only: the Batch API takes no edits, so they keep to the batch queue's normal worker. */
  accepts(job: Job): boolean {
    return (
      job.priority === "batch" &&
      job.operation === "generate" &&
      job.provider === this.#provider &&
      this.#registry.model(job.model)?.provider === this.#provider
    );
  }

  async submit(job: Job): Promise<Job | undefined> {
    const requests = this.requests(job as JobOf<"generate">);
    const state = await this.#api.submit(requests, { job_id: job.id, tenant: job.tenant });
    return this.#batches.open(job, {
      id: state.id,
      input_file_id: state.inputFileId,
      submitted_at: this.#now(),
      status: state.status,
      requests: requests.length,
    });
  }

  /** The job's provider calls, as the worker would make them: `n` split by what one call may ask for. */
  requests(job: JobOf<"generate">): BatchRequest[] {
    const model = this.#registry.model(job.model);
    if (!model) throw new ProviderError("invalid_request", `The model '${job.model}' is no longer served.`);
    const input = job.input;
    const asked = input.size === "auto" ? undefined : parseSize(input.size);
    const size = asked && sizeFor(model, asked);
    return splitCount(input.n, model.maxImagesPerCall).map((n, call) => ({
      customId: batchCustomId(job.id, call),
      call: generateCall(model, input, n, size),
    }));
  }
}

/** Why a batch that ended without results failed its job: one code per end. */
const batchEndErrors: Record<"failed" | "expired" | "cancelled", (state: BatchState) => JobError> = {
  failed: (s) => ({
    type: "server_error",
    code: "batch_failed",
    message: `The provider's batch failed${s.message ? `: ${s.message}` : "."}`,
  }),
  expired: () => ({
    type: "server_error",
    code: "batch_expired",
    message: "The provider did not run the batch within its 24-hour window.",
  }),
  cancelled: () => ({
    type: "server_error",
    code: "batch_cancelled",
    message: "The provider's batch was cancelled before it ran this job.",
  }),
};

export interface BatchPollReport {
  open: number;
  settled: number;
  /** Batches whose handling failed this time; they stay open and are polled again next time. */
  errors: number;
}

/**
 * Settles the jobs of ended batches. Every step can run again: a poll that crashes part-way leaves the batch's
 * item open, and the next poll stores the images again under the same keys and settles only a job still running.
 */
export interface BatchPollerDeps {
  api: BatchApi;
  batches: BatchStore;
  store: JobStore;
  runner: JobRunner;
  logger: Logger;
  /** Batches handled per poll; the rest wait for the next. */
  limit: number;
  now?: () => number;
}

export class BatchPoller {
  readonly #deps: BatchPollerDeps;
  readonly #now: () => number;

  constructor(deps: BatchPollerDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
  }

  async poll(): Promise<BatchPollReport> {
    const open = await this.#deps.batches.list(this.#deps.limit);
    const report: BatchPollReport = { open: open.length, settled: 0, errors: 0 };
    for (const item of open) {
      try {
        if (await this.#settle(item)) report.settled++;
      } catch (err) {
        // Not lost: the item stays open, and the next poll tries again.
        report.errors++;
        this.#deps.logger.error("Could not settle a batch; the next poll retries it", {
          batchId: item.batch_id,
          jobId: item.job_id,
          err,
        });
      }
    }
    return report;
  }

  /** True when the batch's job is settled and its item closed. */
  async #settle(item: OpenBatch): Promise<boolean> {
    const { api, batches, store, runner } = this.#deps;
    const job = await store.get(item.tenant, item.job_id, true);
    if (!job || isTerminal(job.status) || job.batch?.id !== item.batch_id) {
      // Canceled while its batch runs (or already settled by an earlier poll): the batch is of no more use.
      if (job?.status === "canceled" || !job || job.batch?.id !== item.batch_id) await this.#cancel(item);
      if (job && isTerminal(job.status)) await runner.replaySettled(job);
      await batches.close(item.batch_id);
      return true;
    }
    const state = await api.retrieve(item.batch_id);
    if (!batchEnded.includes(state.status)) {
      if (state.status !== job.batch.status)
        await batches.setStatus(job, item.batch_id, state.status, this.#now());
      return false;
    }
    // The view keeps the batch's last status beside the job's outcome.
    await batches.setStatus(job, item.batch_id, state.status, this.#now());
    if (state.status === "completed") await this.#complete(job, state);
    else await runner.failBatch(job, batchEndErrors[state.status as keyof typeof batchEndErrors](state));
    await batches.close(item.batch_id);
    return true;
  }

  async #complete(job: Job, state: BatchState): Promise<void> {
    const { api, runner } = this.#deps;
    const lines: BatchResult[] = [];
    for (const file of [state.outputFileId, state.errorFileId])
      if (file) lines.push(...(await api.results(file)));
    const requests = job.batch?.requests ?? 0;
    const mine = Array.from({ length: requests }, (_, call) =>
      lines.find((l) => l.customId === batchCustomId(job.id, call)),
    );
    const failed = mine.find((l) => l && !l.ok);
    if (failed && !failed.ok) {
      await runner.failBatch(job, toJobError(failed.error));
      return;
    }
    if (mine.some((l) => l === undefined)) {
      await runner.failBatch(job, {
        type: "server_error",
        code: "batch_incomplete",
        message: "The provider's batch completed without an answer for every request of this job.",
      });
      return;
    }
    const results = mine.flatMap((l) => (l?.ok ? [l.result] : []));
    const execution: Execution = {
      images: results.flatMap((r) => r.images),
      usages: results.map((r): TokenUsage | undefined => r.usage),
      quality: results[0]?.quality,
      providerCalls: results.length,
      // The batch's turnaround: what the job waited on the provider.
      providerMs: this.#now() - (job.batch?.submitted_at ?? job.created_at),
      provider: job.provider,
      model: job.model,
    };
    await runner.completeBatch(job, execution);
  }

  /** Best effort: a batch that already ended cannot be cancelled, and the provider says so. */
  async #cancel(item: OpenBatch): Promise<void> {
    await this.#deps.api.cancel(item.batch_id).catch((err: unknown) =>
      this.#deps.logger.info("Could not cancel the batch (it may have ended)", {
        batchId: item.batch_id,
        err,
      }),
    );
  }
}
