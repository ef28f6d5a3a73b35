import type * as z from "zod/mini";
import { parseRequest } from "../../validation.ts";
import type { JobWork } from "../inputs.ts";
import { type Job, type JobOf, newJobId } from "../model.ts";
import type { ProviderRegistry } from "../registry.ts";
import type { ImageSources } from "../sources.ts";
import { edit } from "./edit.ts";
import { generate } from "./generate.ts";
import { outpaint } from "./outpaint.ts";
import { type ParamName, paramNames } from "./output.ts";
import { removeBackground } from "./remove-background.ts";
import type { Executor, OperationSpec } from "./types.ts";
import { variation } from "./variation.ts";

type Operation = Job["operation"];

/** Each job operation as data: its request schema, how a request becomes a job, how a job runs. */
export const operationSpecs: { [O in Operation]: OperationSpec<O, z.ZodMiniType> } = {
  generate,
  edit,
  variation,
  outpaint,
  remove_background: removeBackground,
} as { [O in Operation]: OperationSpec<O, z.ZodMiniType> };

function executorFor<O extends Operation>(operation: O): Executor {
  return (job, ctx) => {
    if (job.operation !== operation)
      throw new Error(`A ${job.operation} job reached the ${operation} executor.`);
    return operationSpecs[operation].execute(job as JobOf<O>, ctx);
  };
}

/** How each job operation runs. */
export const executors: Record<Operation, Executor> = {
  generate: executorFor("generate"),
  edit: executorFor("edit"),
  variation: executorFor("variation"),
  outpaint: executorFor("outpaint"),
  remove_background: executorFor("remove_background"),
};

export interface Prepared {
  /** Chosen before the job exists, so its input images are stored under it first. */
  id: string;
  work: JobWork;
  provider: string;
}

/**
 * A request for `operation` → a job ready to submit: validated against the model, defaults filled in, input
 * images fetched, normalised and stored. Throws a 4xx naming the parameter (under `prefix`, or as another API
 * calls it) for bad input, before anything is stored. The one entry point for every route that makes jobs.
 */
export async function prepareOperation(
  operation: Operation,
  raw: unknown,
  deps: {
    registry: ProviderRegistry;
    sources: ImageSources;
    /** What a request that names no response_format gets (DEFAULT_RESPONSE_FORMAT); "url" when absent. */
    defaultResponseFormat?: "url" | "b64_json";
    /** The size a request that names none gets, where the endpoint has one (OpenAI's); else "auto". */
    defaultSize?: string;
  },
  tenant: string,
  prefix: string | ParamName = "",
  /** A caller that must not make a second job for the same thing (an S3 upload) derives the id itself. */
  id: string = newJobId(),
): Promise<Prepared> {
  const spec = operationSpecs[operation];
  const paramPath = typeof prefix === "string" ? paramNames(prefix) : prefix;
  const request = parseRequest(spec.request, raw, prefix) as z.infer<typeof spec.request> & {
    model?: string;
    response_format?: "url" | "b64_json";
  };
  // A request that names no model gets its tenant's default; the job records which it was.
  request.model ??= deps.registry.defaultFor(tenant);
  if (deps.defaultResponseFormat) request.response_format ??= deps.defaultResponseFormat;
  const input = await spec.prepare(request, { ...deps, tenant, jobId: id }, paramPath);
  const provider = deps.registry.resolve(input.model, operation).provider.name;
  return { id, work: { operation, input } as JobWork, provider };
}
