import * as z from "zod/mini";
import { type Dimensions, type ModelSpec, parseSize } from "../../catalog/catalog.ts";
import { optionalParam } from "../../validation.ts";
import { InvalidInput } from "../errors.ts";
import type { GenerateInput, JobOf } from "../model.ts";
import type { GenerateCall } from "../ports/provider.ts";
import type { ProviderRegistry } from "../registry.ts";
import { onModels, sizeFor } from "./fallback.ts";
import { outputOptions, outputRequestFields, type ParamName, paramNames, requestedSize } from "./output.ts";
import { previewInput, previewRequestFields, providerCalls } from "./previews.ts";
import type { Execution, ExecutionContext, OperationSpec } from "./types.ts";

/** POST /v1/images/generations, and `input` of a generate job: OpenAI's request shape. */
export const generateRequest = z.strictObject({
  ...outputRequestFields,
  prompt: z.string().check(z.minLength(1), z.maxLength(32_000)),
  style: optionalParam(z.enum(["vivid", "natural"])),
  moderation: optionalParam(z.enum(["low", "auto"])),
  ...previewRequestFields,
});
export type GenerateRequest = z.infer<typeof generateRequest>;

/** Checks a request against its model's capabilities and fills in defaults. */
export function prepareGenerate(
  req: GenerateRequest,
  registry: ProviderRegistry,
  paramPath: ParamName = paramNames(""),
): GenerateInput {
  const { model } = registry.resolve(req.model, "generate", paramPath("model"));
  const size = requestedSize(model, req, paramPath);
  if (req.style !== undefined && !model.styles.includes(req.style)) {
    throw new InvalidInput(`${model.id} does not support 'style'.`, { param: paramPath("style") });
  }
  return {
    ...outputOptions(model, req, size, paramPath),
    ...previewInput(req),
    prompt: req.prompt,
    ...(req.style !== undefined && { style: req.style }),
    ...(req.moderation !== undefined && { moderation: req.moderation }),
  };
}

/** What one provider call of a generate job asks for (the worker's calls and the batch lane's requests alike). */
export function generateCall(
  model: ModelSpec,
  input: JobOf<"generate">["input"],
  n: number,
  size: Dimensions | undefined,
): Omit<GenerateCall, "seed" | "signal" | "deadline"> {
  return {
    model,
    prompt: input.prompt,
    n,
    size,
    quality: model.qualities.includes(input.quality ?? "") ? input.quality : undefined,
    style: input.style,
    outputFormat: input.output_format,
    outputCompression: input.output_compression,
    background: input.background,
    moderation: input.moderation,
    user: input.user,
  };
}

/** Runs a generate job: one provider call per `maxImagesPerCall` images, concurrently; fallbacks after. */
export async function executeGenerate(job: JobOf<"generate">, ctx: ExecutionContext): Promise<Execution> {
  const input = job.input;
  const requested = input.size === "auto" ? undefined : parseSize(input.size);
  return onModels(job, ctx, "generate", ({ model, provider, standIn }) => {
    // "auto" is the provider's choice; a stand-in needs a concrete size.
    const size = requested ? sizeFor(model, requested) : standIn ? parseSize(model.defaultSize) : undefined;
    return Promise.all(
      providerCalls(input, model.maxImagesPerCall, ctx).map(({ n, previews }, call) =>
        provider.generate({
          ...previews,
          ...generateCall(model, input, n, size),
          seed: `${job.id}:${call}`,
          signal: ctx.signal,
          deadline: ctx.deadline,
        }),
      ),
    );
  });
}

export const generate: OperationSpec<"generate", typeof generateRequest> = {
  request: generateRequest,
  prepare: async (req, ctx, paramPath) => prepareGenerate(req, ctx.registry, paramPath),
  execute: executeGenerate,
};
