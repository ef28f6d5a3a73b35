import * as z from "zod/mini";
import { InvalidRequestError } from "../../errors.ts";
import { parseRequest } from "../../validation.ts";
import { jsonBody } from "../http.ts";
import type { ErrorShape, Route, RouteContext } from "../router.ts";
import type { RouteDeps } from "../routes/deps.ts";
import { syncResponses } from "../routes/images.ts";
import { answer, imageStrings, runJob } from "./shared.ts";

// Vision Studio's GPT Image API: generate, edit, and inpaint with a mask or the border only (outpainting), under
// /api/v1/openai, answered as {success, data: {images: [{url}]}}. Its documented aspect-ratio sizes (683x1024 for
// 2:3) become `output_size`, made at the model's nearest size and resized.

const base = "/api/v1/openai";

export const visionStudioErrors: ErrorShape = {
  prefix: `${base}/`,
  schema: "VisionStudioError",
  body: (err) => ({ success: false, message: err.message }),
};

/** The sizes Vision Studio documents for its ratios; others of ours go as `aspect_ratio`, at the model's size. */
const documentedSizes: Readonly<Record<string, string>> = {
  "1:1": "1024x1024",
  "2:3": "683x1024",
  "3:2": "1024x683",
};

const prompt = z.string().check(z.minLength(1));
const count = z.optional(
  z.number().check(z.int(), z.gte(1), z.lte(10), z.describe("1 to 10; 1 by default.")),
);
const aspectRatio = z.optional(
  z
    .enum(["1:1", "2:3", "3:2", "16:9", "9:16", "4:5", "5:4"])
    .check(
      z.describe("1:1 is 1024x1024, 2:3 683x1024, 3:2 1024x683; the others at the model's nearest size."),
    ),
);
const url = z.optional(z.string().check(z.minLength(1), z.describe("An http(s) URL.")));
const file = z.optional(z.string().check(z.minLength(1), z.describe("The file's bytes, base64-encoded.")));

export const generateImageRequest = z.strictObject({
  prompt,
  number_of_images: count,
  aspect_ratio: aspectRatio,
  quality: z.optional(z.enum(["auto", "low", "medium", "high"])),
  background: z.optional(z.enum(["auto", "transparent", "opaque"])),
});
export const editImageRequest = z.strictObject({
  prompt,
  image_url: url,
  image_file: file,
  number_of_images: count,
  aspect_ratio: aspectRatio,
});
export const inpaintRequest = z.strictObject({
  prompt,
  image_url: url,
  image_file: file,
  mask_url: url,
  mask_file: file,
  number_of_images: count,
  inpaint_border_only: z.optional(
    z.boolean().check(z.describe("true: extend the image by border_percentage on every side; no mask.")),
  ),
  border_percentage: z.optional(z.number().check(z.gte(0.01), z.lte(0.5), z.describe("0.01 to 0.5."))),
});

/** One image given as `{name}_url` or `{name}_file`, and the field it came in (for errors). */
function source(body: { [k: string]: unknown }, name: "image" | "mask"): { value?: string; field: string } {
  const [u, f] = [body[`${name}_url`], body[`${name}_file`]] as [string | undefined, string | undefined];
  if (u !== undefined && f !== undefined) {
    throw new InvalidRequestError(`Give either '${name}_url' or '${name}_file', not both.`, {
      param: `${name}_file`,
    });
  }
  if (f !== undefined) {
    // Base64 file contents are never read as a URL.
    return {
      value: f.startsWith("data:") ? f : `data:application/octet-stream;base64,${f}`,
      field: `${name}_file`,
    };
  }
  return { ...(u !== undefined && { value: u }), field: `${name}_url` };
}

/** `aspect_ratio` as the jobs API takes it. */
const sizing = (ratio: string | undefined) =>
  ratio === undefined
    ? {}
    : documentedSizes[ratio]
      ? { output_size: documentedSizes[ratio] }
      : { aspect_ratio: ratio };

async function run(
  deps: RouteDeps,
  ctx: RouteContext,
  operation: "generate" | "edit" | "outpaint",
  request: Record<string, unknown>,
  names: Record<string, string>,
) {
  const job = await runJob(deps, ctx, operation, request, {
    n: "number_of_images",
    output_size: "aspect_ratio",
    ...names,
  });
  const urls = await imageStrings(job, deps, "url");
  return answer(job, { success: true, data: { images: urls.map((u) => ({ url: u })) } });
}

const parseBody = <T extends z.ZodMiniType>(ctx: RouteContext, schema: T): z.infer<T> =>
  parseRequest(schema, jsonBody(ctx.req));

const shared = {
  tag: "VisionStudio" as const,
  ...syncResponses,
  responses: {
    200: {
      description: "The images, as presigned URLs.",
      schema: "VisionStudioImages" as const,
      headers: { "x-job-id": "The job that made them; GET /v1/jobs/{id} shows it." },
    },
  },
};

export const visionStudioRoutes = (deps: RouteDeps): Route[] => [
  {
    method: "POST",
    path: `${base}/image/generation/generate-image`,
    errorShape: visionStudioErrors,
    doc: {
      ...shared,
      operationId: "visionStudioGenerateImage",
      summary: "Generate images (Vision Studio)",
      description: "Vision Studio's generate-image, as a generate job.",
      body: {
        schema: generateImageRequest,
        example: {
          prompt: "A cute cartoon cat sitting upright, simple and clean design suitable for logo use",
          number_of_images: 1,
          aspect_ratio: "1:1",
          quality: "high",
          background: "transparent",
        },
      },
    },
    handle: async (ctx) => {
      const body = parseBody(ctx, generateImageRequest);
      return run(
        deps,
        ctx,
        "generate",
        {
          prompt: body.prompt,
          n: body.number_of_images,
          ...sizing(body.aspect_ratio),
          quality: body.quality,
          background: body.background,
        },
        {},
      );
    },
  },
  {
    method: "POST",
    path: `${base}/image/editing/edit-image`,
    errorShape: visionStudioErrors,
    doc: {
      ...shared,
      operationId: "visionStudioEditImage",
      summary: "Edit an image (Vision Studio)",
      description: "Vision Studio's edit-image, as an edit job: image_url, or image_file as base64.",
      body: {
        schema: editImageRequest,
        example: {
          prompt: "Transform this image to have a warm sunset lighting with golden tones",
          image_url: "https://example.com/photo.jpeg",
          number_of_images: 1,
          aspect_ratio: "1:1",
        },
      },
    },
    handle: async (ctx) => {
      const body = parseBody(ctx, editImageRequest);
      const image = source(body, "image");
      return run(
        deps,
        ctx,
        "edit",
        { prompt: body.prompt, image: image.value, n: body.number_of_images, ...sizing(body.aspect_ratio) },
        { image: image.field },
      );
    },
  },
  {
    method: "POST",
    path: `${base}/image/editing/inpaint`,
    errorShape: visionStudioErrors,
    doc: {
      ...shared,
      operationId: "visionStudioInpaint",
      summary: "Inpaint with a mask, or extend the border (Vision Studio)",
      description:
        "Vision Studio's inpaint. With a mask (mask_url or mask_file) it is an edit job; with inpaint_border_only it is an outpaint job: the canvas grows by border_percentage on every side and the model fills the border.",
      body: {
        schema: inpaintRequest,
        example: {
          prompt: "Expand with forest environment",
          image_url: "https://example.com/photo.jpeg",
          inpaint_border_only: true,
          border_percentage: 0.2,
        },
      },
    },
    handle: async (ctx) => {
      const body = parseBody(ctx, inpaintRequest);
      const image = source(body, "image");
      const mask = source(body, "mask");
      const common = { prompt: body.prompt, image: image.value, n: body.number_of_images };
      if (body.inpaint_border_only) {
        if (body.border_percentage === undefined) {
          throw new InvalidRequestError("'border_percentage' is required with inpaint_border_only.", {
            param: "border_percentage",
          });
        }
        return run(
          deps,
          ctx,
          "outpaint",
          { ...common, mask: mask.value, border_percentage: body.border_percentage },
          { image: image.field, mask: mask.field },
        );
      }
      return run(
        deps,
        ctx,
        "edit",
        { ...common, mask: mask.value },
        { image: image.field, mask: mask.field },
      );
    },
  },
];
