import * as z from "zod/mini";

// What each operation's job keeps as its `input`, after validation against the model: what the worker needs,
// nothing more. Images never ride in the record or the message: they are in S3 and the input names their keys.

export const imageFormat = z.enum(["png", "jpeg", "webp"]);

/** What every operation's output obeys; the runner conforms and the view reports these. */
const outputFields = {
  model: z.string(),
  n: z.number(),
  /** The size asked of the model. */
  size: z.string(),
  /** The size delivered, when it differs from what the model makes: the runner resizes to it. */
  output_size: z.optional(z.string()),
  quality: z.optional(z.string()),
  output_format: imageFormat,
  output_compression: z.optional(z.number()),
  background: z.optional(z.enum(["transparent", "opaque", "auto"])),
  user: z.optional(z.string()),
  response_format: z.enum(["url", "b64_json"]),
};

/** Previews the provider streams while it works (OpenAI's `partial_images`, 0-3); operations that edit or generate. */
const partialImages = { partial_images: z.optional(z.number()) };

/** An input image, normalised to PNG by the API and stored in S3 before the job was recorded. */
export const sourceImage = z.object({
  key: z.string(),
  width: z.number(),
  height: z.number(),
  bytes: z.number(),
  sha256: z.string(),
  /** Given as a previous job's output. */
  from_job: z.optional(z.object({ job_id: z.string(), index: z.number() })),
});
export type SourceImage = z.infer<typeof sourceImage>;

export const generateInput = z.object({
  ...outputFields,
  ...partialImages,
  prompt: z.string(),
  style: z.optional(z.string()),
  moderation: z.optional(z.enum(["low", "auto"])),
});
export type GenerateInput = z.infer<typeof generateInput>;

export const editInput = z.object({
  ...outputFields,
  ...partialImages,
  prompt: z.string(),
  input_fidelity: z.optional(z.string()),
  images: z.array(sourceImage),
  mask: z.optional(sourceImage),
  /** Where the mask came from: the request, the image's transparency, or none (the whole image may change). */
  mask_source: z.enum(["mask", "image_alpha", "none"]),
  save_source_image: z.boolean(),
  save_source_mask: z.boolean(),
});
export type EditInput = z.infer<typeof editInput>;

export const variationInput = z.object({
  ...outputFields,
  image: sourceImage,
  /** Added to the variation instruction when the variation is made by an edit. */
  prompt: z.optional(z.string()),
  save_source_image: z.boolean(),
});
export type VariationInput = z.infer<typeof variationInput>;

const placement = z.object({ left: z.number(), top: z.number(), width: z.number(), height: z.number() });

export const outpaintInput = z.object({
  ...outputFields,
  ...partialImages,
  prompt: z.string(),
  input_fidelity: z.optional(z.string()),
  image: sourceImage,
  border_percentage: z.number(),
  /** Where the image sits on the `size` canvas; fixed when the job was accepted. */
  placement,
  save_source_image: z.boolean(),
});
export type OutpaintInput = z.infer<typeof outpaintInput>;

/** Cut-outs: the image's size, format png or webp (JPEG has no alpha). */
export const removeBackgroundInput = z.object({
  ...outputFields,
  image: sourceImage,
  save_source_image: z.boolean(),
});
export type RemoveBackgroundInput = z.infer<typeof removeBackgroundInput>;

/** An operation with its input: the job record's discriminated part, validated on read-back. */
export const jobWork = z.discriminatedUnion("operation", [
  z.object({ operation: z.literal("generate"), input: generateInput }),
  z.object({ operation: z.literal("edit"), input: editInput }),
  z.object({ operation: z.literal("variation"), input: variationInput }),
  z.object({ operation: z.literal("outpaint"), input: outpaintInput }),
  z.object({ operation: z.literal("remove_background"), input: removeBackgroundInput }),
]);
export type JobWork = z.infer<typeof jobWork>;
