import * as z from "zod/mini";
import { type Dimensions, type EditSpec, type ModelSpec, parseSize } from "../../catalog/catalog.ts";
import { maskFromAlpha } from "../../images/mask.ts";
import { keptSourceKey, sourceKey } from "../../layout/keys.ts";
import { optionalParam } from "../../validation.ts";
import { InvalidInput } from "../errors.ts";
import type { SourceImage } from "../inputs.ts";
import type { Job, JobOf, KeptSource } from "../model.ts";
import { type ImageRef, imageRef, type LoadedImage, stageImage, stageMask } from "../sources.ts";
import { onModels, sizeFor } from "./fallback.ts";
import { outputOptions, outputRequestFields, type ParamName, requestedSize } from "./output.ts";
import { previewInput, previewRequestFields, providerCalls } from "./previews.ts";
import type { Execution, ExecutionContext, OperationSpec, PrepareContext } from "./types.ts";

/** POST /v1/images/edits (multipart or JSON), and `input` of an edit job. */
export const editRequest = z.strictObject({
  ...outputRequestFields,
  prompt: z.string().check(z.minLength(1), z.maxLength(32_000)),
  /** One image, or several (multipart `image[]`); each an upload, URL, data URL, base64 or job output. */
  image: optionalParam(z.unknown()),
  images: optionalParam(z.unknown()),
  mask: optionalParam(z.unknown()),
  input_fidelity: optionalParam(z.enum(["low", "high"])),
  /**
   * OpenAI's JSON edits take it; providers are called with the multipart edit, which has none, so their default
   * moderation applies.
   */
  moderation: optionalParam(
    z
      .enum(["low", "auto"])
      .check(
        z.describe("Accepted as OpenAI's JSON edits take it; edits are moderated at the provider's default."),
      ),
  ),
  save_source_image: optionalParam(z.boolean()),
  save_source_mask: optionalParam(z.boolean()),
  ...previewRequestFields,
});
export type EditRequest = z.infer<typeof editRequest>;

/** The model's edit capability, or a 400 for a model that cannot edit. */
export function editSpec(model: ModelSpec, paramPath: ParamName): EditSpec {
  if (!model.edit) {
    throw new InvalidInput(`The model '${model.id}' cannot edit images.`, {
      param: paramPath("model"),
      code: "unsupported_operation",
    });
  }
  return model.edit;
}

/** `image` or `images`, one or many, as references with the parameter each came in. */
export function imageList(
  req: { image?: unknown; images?: unknown },
  max: number,
  model: string,
  paramPath: ParamName,
): { ref: ImageRef; param: string }[] {
  if (req.image !== undefined && req.images !== undefined) {
    throw new InvalidInput(`Give either '${paramPath("image")}' or '${paramPath("images")}', not both.`, {
      param: paramPath("images"),
    });
  }
  const field = req.images !== undefined ? "images" : "image";
  const value = req.images ?? req.image;
  if (value === undefined || (Array.isArray(value) && value.length === 0)) {
    throw new InvalidInput(`'${paramPath("image")}' is required: the image to work on.`, {
      param: paramPath("image"),
    });
  }
  const list: unknown[] = Array.isArray(value) ? value : [value];
  if (list.length > max) {
    throw new InvalidInput(
      `${model} takes ${max === 1 ? "one image" : `at most ${max} images`} here; ${list.length} were given.`,
      { param: paramPath(field) },
    );
  }
  return list.map((v, i) => {
    const name = Array.isArray(value) ? `${paramPath(field)}[${i}]` : paramPath(field);
    return { ref: imageRef(v, name), param: name };
  });
}

/** The one image of a variation or outpaint. */
export function oneImage(req: { image?: unknown; images?: unknown }, model: string, paramPath: ParamName) {
  return imageList(req, 1, model, paramPath)[0] as { ref: ImageRef; param: string };
}

/** Stores a staged input where the worker will read it; before the job is recorded. */
export async function storeSource(
  ctx: PrepareContext,
  name: string,
  png: Buffer,
  loaded: LoadedImage,
  size: Dimensions,
): Promise<SourceImage> {
  return ctx.sources.put(sourceKey(ctx.tenant, ctx.jobId, name), png, loaded, size);
}

async function prepareEdit(req: EditRequest, ctx: PrepareContext, paramPath: ParamName) {
  const { model } = ctx.registry.resolve(req.model, "edit", paramPath("model"));
  const spec = editSpec(model, paramPath);
  const output = outputOptions(model, req, requestedSize(model, req, paramPath, ctx.defaultSize), paramPath);
  if (req.input_fidelity !== undefined && !spec.inputFidelity.includes(req.input_fidelity)) {
    throw new InvalidInput(
      spec.inputFidelity.length === 0
        ? `${model.id} takes no 'input_fidelity'.`
        : `${model.id} supports input_fidelity ${spec.inputFidelity.join(", ")}.`,
      { param: paramPath("input_fidelity") },
    );
  }
  if (req.mask !== undefined && !spec.mask) {
    throw new InvalidInput(`${model.id} takes no mask.`, { param: paramPath("mask") });
  }
  const refs = imageList(req, spec.maxImages, model.id, paramPath);
  const maskRef = req.mask === undefined ? undefined : imageRef(req.mask, paramPath("mask"));
  // Everything is fetched, decoded and checked before anything is stored: a bad input leaves nothing behind.
  const staged = await inBatches(refs, 4, (r) =>
    stageImage(ctx.sources, r.ref, r.param, ctx.tenant, spec.input),
  );
  const first = (staged[0] as (typeof staged)[number]).image;
  const mask = maskRef
    ? await stageMask(ctx.sources, maskRef, paramPath("mask"), ctx.tenant, first, spec.input)
    : await maskFromAlpha(first.png);
  const [images, storedMask] = await Promise.all([
    Promise.all(staged.map((s, i) => storeSource(ctx, `image-${i}`, s.image.png, s.loaded, s.image))),
    mask ? storeSource(ctx, "mask", mask, { bytes: mask }, first) : undefined,
  ]);
  return {
    ...output,
    ...previewInput(req),
    prompt: req.prompt,
    images,
    ...(storedMask && { mask: storedMask }),
    mask_source: maskRef ? ("mask" as const) : mask ? ("image_alpha" as const) : ("none" as const),
    ...(req.input_fidelity !== undefined && { input_fidelity: req.input_fidelity }),
    save_source_image: req.save_source_image ?? false,
    save_source_mask: req.save_source_mask ?? false,
  };
}

/**
 * Runs `fn` over `items`, at most `limit` at a time, results in order. Up to 16 images of up to 50 M pixels
 * each must not all be decoded at once in a Lambda's memory.
 */
async function inBatches<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += limit)
    results.push(...(await Promise.all(items.slice(i, i + limit).map(fn))));
  return results;
}

export interface EditPlan {
  prompt: string;
  images: Buffer[];
  mask?: Buffer | undefined;
  /** Undefined lets the provider choose (the placeholder: the image's size when the model makes it, else the nearest). */
  size: Dimensions | undefined;
  inputFidelity?: string | undefined;
}

/** Runs edits for any edit-based operation: one provider call per `maxImagesPerCall` images, concurrently. */
export async function runEdits(job: Job, plan: EditPlan, ctx: ExecutionContext): Promise<Execution> {
  const input = job.input;
  return onModels(job, ctx, job.operation, ({ model, provider }) =>
    Promise.all(
      providerCalls(input, model.maxImagesPerCall, ctx).map(({ n, previews }, call) =>
        provider.edit({
          ...previews,
          model,
          prompt: plan.prompt,
          images: plan.images,
          mask: plan.mask,
          n,
          size: plan.size && sizeFor(model, plan.size),
          quality: model.qualities.includes(input.quality ?? "") ? input.quality : undefined,
          inputFidelity: model.edit?.inputFidelity.includes(plan.inputFidelity ?? "")
            ? plan.inputFidelity
            : undefined,
          outputFormat: input.output_format,
          outputCompression: input.output_compression,
          background: input.background,
          user: input.user,
          seed: `${job.id}:${call}`,
          signal: ctx.signal,
          deadline: ctx.deadline,
        }),
      ),
    ),
  );
}

/**
 * Copies the inputs a request asked to keep beside the outputs, or into the tenant's sources folder where one is
 * configured; the same keys on every attempt.
 */
export async function keepSources(
  job: Job,
  ctx: Pick<ExecutionContext, "images" | "sourcesFolder">,
  kept: { role: KeptSource["role"]; index: number; source: SourceImage }[],
): Promise<KeptSource[]> {
  const folder = ctx.sourcesFolder?.(job.tenant);
  return Promise.all(
    kept.map(async ({ role, index, source }) => {
      const key = keptSourceKey(job.tenant, job.id, role, index, folder);
      await ctx.images.copy(source.key, key);
      const { width, height, bytes, sha256 } = source;
      return { role, index, key, width, height, bytes, sha256 };
    }),
  );
}

async function executeEdit(job: JobOf<"edit">, ctx: ExecutionContext): Promise<Execution> {
  const input = job.input;
  const [images, mask] = await Promise.all([
    Promise.all(input.images.map((s) => ctx.images.get(s.key))),
    input.mask ? ctx.images.get(input.mask.key) : undefined,
  ]);
  const execution = await runEdits(
    job,
    { prompt: input.prompt, images, mask, size: parseSize(input.size), inputFidelity: input.input_fidelity },
    ctx,
  );
  const kept = [
    ...(input.save_source_image
      ? input.images.map((source, index) => ({ role: "image" as const, index, source }))
      : []),
    ...(input.save_source_mask && input.mask
      ? [{ role: "mask" as const, index: 0, source: input.mask }]
      : []),
  ];
  if (kept.length === 0) return execution;
  return { ...execution, output: { sources: await keepSources(job, ctx, kept) } };
}

export const edit: OperationSpec<"edit", typeof editRequest> = {
  request: editRequest,
  prepare: prepareEdit,
  execute: executeEdit,
};
