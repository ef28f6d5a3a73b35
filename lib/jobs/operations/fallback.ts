import {
  type Dimensions,
  type ModelSpec,
  nearestSize,
  type Operation,
  sizeProblem,
} from "../../catalog/catalog.ts";
import type { Job } from "../model.ts";
import { fallsBack, ProviderError, type ProviderResult } from "../ports/provider.ts";
import type { ResolvedModel } from "../registry.ts";
import { standInNotice } from "./output.ts";
import type { Execution, ExecutionContext } from "./types.ts";

/**
 * Runs a job's provider calls on its model and, while that model's provider is down, slow or throttling (after
 * its own retries), on each of the model's fallbacks in turn. A refusal or a bad request ends it at once. The
 * execution says which model and provider made the images, and which were tried before.
 */
export async function onModels(
  job: Job,
  ctx: ExecutionContext,
  operation: Operation,
  run: (resolved: ResolvedModel) => Promise<ProviderResult[]>,
): Promise<Execution> {
  const chain = ctx.registry.chain(job.input.model, operation);
  const fallbacks: NonNullable<Execution["fallbacks"]> = [];
  const started = Date.now();
  let calls = 0;
  for (const [i, resolved] of chain.entries()) {
    try {
      const results = await run(resolved);
      calls += results.length;
      return {
        images: results.flatMap((r) => r.images).slice(0, job.input.n),
        usages: results.map((r) => r.usage),
        quality: results.find((r) => r.quality !== undefined)?.quality,
        providerCalls: calls,
        providerMs: Date.now() - started,
        provider: resolved.provider.name,
        model: resolved.model.id,
        notice: resolved.standIn ? standInNotice(resolved.model) : undefined,
        ...(fallbacks.length > 0 && { fallbacks }),
      };
    } catch (err) {
      const canFallBack = err instanceof ProviderError && fallsBack[err.failure] && !ctx.signal.aborted;
      if (!canFallBack || i === chain.length - 1) throw err;
      calls += 1;
      fallbacks.push({
        model: resolved.model.id,
        provider: resolved.provider.name,
        failure: err.failure,
        message: err.message,
      });
    }
  }
  throw new Error("A model chain is never empty.");
}

/** The size to ask `model` for: the job's, or the nearest the model supports when the job's was checked against
 * another model (a fallback's). */
export function sizeFor(model: ModelSpec, size: Dimensions): Dimensions {
  return sizeProblem(model, `${size.width}x${size.height}`) ? nearestSize(model, size) : size;
}
