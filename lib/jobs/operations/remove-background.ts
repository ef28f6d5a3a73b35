import * as z from "zod/mini";
import { optionalParam } from "../../validation.ts";
import { InvalidInput } from "../errors.ts";
import type { JobOf } from "../model.ts";
import { ProviderError } from "../ports/provider.ts";
import { stageImage } from "../sources.ts";
import { editSpec, keepSources, oneImage, storeSource } from "./edit.ts";
import { onModels } from "./fallback.ts";
import { outputOptions, type ParamName } from "./output.ts";
import type { Execution, ExecutionContext, OperationSpec, PrepareContext } from "./types.ts";

/** `input` of a remove_background job: one image in, the same image with a transparent background out. */
export const removeBackgroundRequest = z.strictObject({
  model: optionalParam(z.string().check(z.minLength(1), z.maxLength(128))),
  image: optionalParam(z.unknown()),
  images: optionalParam(z.unknown()),
  output_format: optionalParam(z.enum(["png", "webp"])),
  response_format: optionalParam(z.enum(["url", "b64_json"])),
  user: optionalParam(z.string().check(z.maxLength(256))),
  save_source_image: optionalParam(z.boolean()),
});
export type RemoveBackgroundRequest = z.infer<typeof removeBackgroundRequest>;

async function prepareRemoveBackground(
  req: RemoveBackgroundRequest,
  ctx: PrepareContext,
  paramPath: ParamName,
) {
  const { model } = ctx.registry.resolve(req.model, "remove_background", paramPath("model"));
  const spec = editSpec(model, paramPath);
  const format = req.output_format ?? "png";
  if (!model.outputFormats.includes(format)) {
    throw new InvalidInput(`${model.id} makes ${model.outputFormats.join(" or ")} cut-outs.`, {
      param: paramPath("output_format"),
    });
  }
  const one = oneImage(req, model.id, paramPath);
  const staged = await stageImage(ctx.sources, one.ref, one.param, ctx.tenant, spec.input);
  const size = `${staged.image.width}x${staged.image.height}`;
  return {
    ...outputOptions(model, { ...req, output_format: format, background: "transparent" }, size, paramPath),
    image: await storeSource(ctx, "image-0", staged.image.png, staged.loaded, staged.image),
    save_source_image: req.save_source_image ?? false,
  };
}

async function executeRemoveBackground(
  job: JobOf<"remove_background">,
  ctx: ExecutionContext,
): Promise<Execution> {
  const input = job.input;
  const image = await ctx.images.get(input.image.key);
  const execution = await onModels(job, ctx, "remove_background", async ({ model, provider }) => {
    // The catalog offers remove_background only on models whose provider has it; a mismatch is a bug.
    if (!provider.removeBackground) {
      throw new ProviderError("invalid_request", `${provider.name} cannot remove backgrounds.`);
    }
    const result = await provider.removeBackground({
      model,
      image,
      outputFormat: input.output_format,
      seed: `${job.id}:0`,
      signal: ctx.signal,
      deadline: ctx.deadline,
    });
    return [result];
  });
  if (!input.save_source_image) return execution;
  const sources = await keepSources(job, ctx, [{ role: "image", index: 0, source: input.image }]);
  return { ...execution, output: { sources } };
}

export const removeBackground: OperationSpec<"remove_background", typeof removeBackgroundRequest> = {
  request: removeBackgroundRequest,
  prepare: prepareRemoveBackground,
  execute: executeRemoveBackground,
};
