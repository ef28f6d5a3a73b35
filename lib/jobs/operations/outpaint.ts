import * as z from "zod/mini";
import { type Dimensions, nearestSize, parseSize } from "../../catalog/catalog.ts";
import { outpaintCanvas, outpaintLayout } from "../../images/canvas.ts";
import { optionalParam } from "../../validation.ts";
import { InvalidInput } from "../errors.ts";
import type { JobOf } from "../model.ts";
import { stageImage } from "../sources.ts";
import { editSpec, keepSources, oneImage, runEdits, storeSource } from "./edit.ts";
import { outputOptions, outputRequestFields, type ParamName, requestedSize } from "./output.ts";
import { previewInput, previewRequestFields } from "./previews.ts";
import type { Execution, ExecutionContext, OperationSpec, PrepareContext } from "./types.ts";

/**
 * `input` of an outpaint job, and POST /v1/images/edits with `border_percentage`: the image grows by that
 * fraction on every side and the model fills the border. The service makes the canvas and the mask.
 */
export const outpaintRequest = z.strictObject({
  ...outputRequestFields,
  prompt: optionalParam(z.string().check(z.minLength(1), z.maxLength(32_000))),
  image: optionalParam(z.unknown()),
  images: optionalParam(z.unknown()),
  mask: optionalParam(z.unknown()),
  border_percentage: z.number().check(z.gte(0.01), z.lte(0.5)),
  input_fidelity: optionalParam(z.enum(["low", "high"])),
  save_source_image: optionalParam(z.boolean()),
  ...previewRequestFields,
});
export type OutpaintRequest = z.infer<typeof outpaintRequest>;

export const outpaintPrompt =
  "Extend the scene beyond the original borders, continuing its content, perspective, lighting and style seamlessly.";

async function prepareOutpaint(req: OutpaintRequest, ctx: PrepareContext, paramPath: ParamName) {
  const { model } = ctx.registry.resolve(req.model, "outpaint", paramPath("model"));
  const spec = editSpec(model, paramPath);
  if (req.mask !== undefined) {
    throw new InvalidInput(
      "Outpainting makes its own mask from border_percentage: send 'mask' for an edit, or 'border_percentage' to outpaint, not both.",
      { param: paramPath("mask") },
    );
  }
  if (req.input_fidelity !== undefined && !spec.inputFidelity.includes(req.input_fidelity)) {
    throw new InvalidInput(`${model.id} takes no input_fidelity '${req.input_fidelity}'.`, {
      param: paramPath("input_fidelity"),
    });
  }
  // An explicit size (or aspect ratio) is the canvas; the border is then the least added on each side.
  const requested = parseSize(requestedSize(model, req, paramPath));
  const one = oneImage(req, model.id, paramPath);
  const staged = await stageImage(ctx.sources, one.ref, one.param, ctx.tenant, spec.input);
  const layout = outpaintLayout(
    staged.image,
    req.border_percentage,
    (want: Dimensions) => requested ?? nearestSize(model, want),
  );
  const size = `${layout.canvas.width}x${layout.canvas.height}`;
  return {
    ...outputOptions(model, req, size, paramPath),
    ...previewInput(req),
    prompt: req.prompt ?? outpaintPrompt,
    image: await storeSource(ctx, "image-0", staged.image.png, staged.loaded, staged.image),
    border_percentage: req.border_percentage,
    placement: layout.placement,
    ...(req.input_fidelity !== undefined && { input_fidelity: req.input_fidelity }),
    save_source_image: req.save_source_image ?? false,
  };
}

async function executeOutpaint(job: JobOf<"outpaint">, ctx: ExecutionContext): Promise<Execution> {
  const input = job.input;
  const canvas = parseSize(input.size) as Dimensions;
  const { image, mask } = await outpaintCanvas(await ctx.images.get(input.image.key), {
    canvas,
    placement: input.placement,
  });
  const execution = await runEdits(
    job,
    { prompt: input.prompt, images: [image], mask, size: canvas, inputFidelity: input.input_fidelity },
    ctx,
  );
  if (!input.save_source_image) return execution;
  const sources = await keepSources(job, ctx, [{ role: "image", index: 0, source: input.image }]);
  return { ...execution, output: { sources } };
}

export const outpaint: OperationSpec<"outpaint", typeof outpaintRequest> = {
  request: outpaintRequest,
  prepare: prepareOutpaint,
  execute: executeOutpaint,
};
