import * as z from "zod/mini";
import { parseSize } from "../../catalog/catalog.ts";
import { optionalParam } from "../../validation.ts";
import { InvalidInput } from "../errors.ts";
import type { JobOf } from "../model.ts";
import { stageImage } from "../sources.ts";
import { editSpec, keepSources, oneImage, storeSource } from "./edit.ts";
import { onModels, sizeFor } from "./fallback.ts";
import { outputOptions, outputRequestFields, type ParamName, requestedSize, splitCount } from "./output.ts";
import type { Execution, ExecutionContext, OperationSpec, PrepareContext } from "./types.ts";

/** POST /v1/images/variations (multipart or JSON), and `input` of a variation job. */
export const variationRequest = z.strictObject({
  ...outputRequestFields,
  image: optionalParam(z.unknown()),
  /** Steers a variation made by editing (what to keep or change); a native variations endpoint takes none. */
  prompt: optionalParam(z.string().check(z.minLength(1), z.maxLength(4_000))),
  save_source_image: optionalParam(z.boolean()),
});
export type VariationRequest = z.infer<typeof variationRequest>;

/** What an edit is asked for when a model has no variations endpoint of its own. */
export const variationPrompt =
  "Make a variation of this image: keep its subject, composition, palette and style, and vary the details naturally, as a second take of the same picture would.";

async function prepareVariation(req: VariationRequest, ctx: PrepareContext, paramPath: ParamName) {
  const { model } = ctx.registry.resolve(req.model, "variation", paramPath("model"));
  const spec = editSpec(model, paramPath);
  const output = outputOptions(model, req, requestedSize(model, req, paramPath, ctx.defaultSize), paramPath);
  if (req.prompt !== undefined && spec.variations === "native") {
    throw new InvalidInput(
      `${model.id} makes variations with its own endpoint, which takes no prompt; leave 'prompt' out.`,
      { param: paramPath("prompt") },
    );
  }
  const one = oneImage(req, model.id, paramPath);
  const staged = await stageImage(ctx.sources, one.ref, one.param, ctx.tenant, spec.input);
  return {
    ...output,
    image: await storeSource(ctx, "image-0", staged.image.png, staged.loaded, staged.image),
    ...(req.prompt !== undefined && { prompt: req.prompt }),
    save_source_image: req.save_source_image ?? false,
  };
}

/** The provider's own variations endpoint where the model has one; otherwise an edit asked to vary the image. */
async function executeVariation(job: JobOf<"variation">, ctx: ExecutionContext): Promise<Execution> {
  const input = job.input;
  const image = await ctx.images.get(input.image.key);
  const requested = parseSize(input.size);
  let method: "variation" | "edit" = "edit";
  const execution = await onModels(job, ctx, "variation", ({ model, provider }) => {
    const size = requested && sizeFor(model, requested);
    const native = model.edit?.variations === "native" ? provider.variation?.bind(provider) : undefined;
    method = native ? "variation" : "edit";
    return Promise.all(
      splitCount(input.n, model.maxImagesPerCall).map(async (n, call) => {
        const seed = `${job.id}:${call}`;
        if (native) {
          const common = { model, image, n, size, outputFormat: input.output_format, user: input.user };
          return native({ ...common, seed, signal: ctx.signal });
        }
        const edited = await provider.edit({
          model,
          prompt: input.prompt ? `${variationPrompt} ${input.prompt}` : variationPrompt,
          images: [image],
          n,
          size,
          outputFormat: input.output_format,
          outputCompression: input.output_compression,
          background: input.background,
          user: input.user,
          seed,
          signal: ctx.signal,
          deadline: ctx.deadline,
        });
        // The prompt was ours, not the user's: no revised prompt to report.
        return { ...edited, images: edited.images.map(({ data }) => ({ data })) };
      }),
    );
  });
  const sources = input.save_source_image
    ? await keepSources(job, ctx, [{ role: "image", index: 0, source: input.image }])
    : undefined;
  return { ...execution, output: { method, ...(sources && { sources }) } };
}

export const variation: OperationSpec<"variation", typeof variationRequest> = {
  request: variationRequest,
  prepare: prepareVariation,
  execute: executeVariation,
};
