import * as z from "zod/mini";
import { parseRequest } from "../../validation.ts";
import { jsonBody } from "../http.ts";
import type { ErrorShape, Route, RouteContext } from "../router.ts";
import type { RouteDeps } from "../routes/deps.ts";
import { syncResponses } from "../routes/images.ts";
import { answer, imageStrings, runJob } from "./shared.ts";

// Backendless's "OpenAI Image Service" marketplace API: camelCase requests, answered with a JSON array of image
// URLs (or base64). Its 256x256 and 512x512 sizes, which no live model makes, become `output_size`: the jobs API
// makes the nearest size the model supports and resizes. The service's "images folder" is the tenant's sources
// folder (TENANT_SOURCE_FOLDERS), where saveSourceImage and saveSourceMask keep the inputs.

const base = "/api/services/OpenAIImageService";

/** Backendless's REST error body (backendless.com/docs/rest/shared_error_handling.html). */
export const backendlessErrors: ErrorShape = {
  prefix: `${base}/`,
  schema: "BackendlessError",
  body: (err) => ({ code: err.code ?? err.type, message: err.message }),
};

const flag = z.optional(
  z
    .union([z.boolean(), z.enum(["true", "false"])])
    .check(z.describe("true or false (a string is read too).")),
);
const common = {
  numberOfImages: z.optional(
    z.number().check(z.int(), z.gte(1), z.lte(10), z.describe("1 to 10; 1 by default.")),
  ),
  responseFormat: z.optional(z.enum(["url", "b64_json"]).check(z.describe("url (the default) or b64_json."))),
  size: z.optional(
    z
      .enum(["256x256", "512x512", "1024x1024"])
      .check(z.describe("1024x1024 by default. Made at the model's nearest size, then resized to this one.")),
  ),
  user: z.optional(z.string().check(z.maxLength(256))),
};
const prompt = z.string().check(z.minLength(1));
const imageUrl = z.string().check(z.minLength(1), z.describe("The image: an http(s) URL (or a data URL)."));

export const createImageRequest = z.strictObject({ prompt, ...common });
export const createImageEditRequest = z.strictObject({
  imageUrl,
  prompt,
  maskUrl: z.optional(
    z
      .string()
      .check(
        z.minLength(1),
        z.describe("Transparent pixels mark what to edit; without it, the image's own."),
      ),
  ),
  ...common,
  saveSourceImage: flag,
  saveSourceMask: flag,
});
export const createImageVariationRequest = z.strictObject({ imageUrl, ...common, saveSourceImage: flag });

/** The jobs API's names for Backendless's fields, so errors speak Backendless's. */
const names = {
  n: "numberOfImages",
  response_format: "responseFormat",
  output_size: "size",
  image: "imageUrl",
  mask: "maskUrl",
  save_source_image: "saveSourceImage",
  save_source_mask: "saveSourceMask",
};

const truthy = (v: boolean | string | undefined) => v === true || v === "true";

/** Runs the translated request and answers with the array of URLs or base64 strings. */
async function run(
  deps: RouteDeps,
  ctx: RouteContext,
  operation: "generate" | "edit" | "variation",
  body: { numberOfImages?: number | undefined; responseFormat?: "url" | "b64_json" | undefined },
  request: Record<string, unknown>,
) {
  const format = body.responseFormat ?? "url";
  const job = await runJob(
    deps,
    ctx,
    operation,
    { ...request, n: body.numberOfImages, response_format: format },
    names,
  );
  return answer(job, await imageStrings(job, deps, format));
}

const shared = { tag: "Backendless" as const, ...syncResponses };
const images = {
  200: {
    description: "The images: presigned URLs, or base64 with responseFormat b64_json.",
    schema: "BackendlessImages" as const,
    headers: { "x-job-id": "The job that made them; GET /v1/jobs/{id} shows it." },
  },
};

export const backendlessRoutes = (deps: RouteDeps): Route[] => [
  {
    method: "POST",
    path: `${base}/createImage`,
    errorShape: backendlessErrors,
    doc: {
      ...shared,
      operationId: "backendlessCreateImage",
      summary: "Create images from a prompt (Backendless)",
      description:
        "Backendless's createImage, as a generate job. 256x256 and 512x512 are made at the model's nearest size and resized; the job records both.",
      body: {
        schema: createImageRequest,
        example: { prompt: "A cat in a hat", numberOfImages: 1, size: "512x512" },
      },
      responses: images,
    },
    handle: async (ctx) => {
      const body = parseBody(ctx, createImageRequest);
      return run(deps, ctx, "generate", body, {
        prompt: body.prompt,
        output_size: body.size ?? "1024x1024",
        user: body.user,
      });
    },
  },
  {
    method: "POST",
    path: `${base}/createImageEdit`,
    errorShape: backendlessErrors,
    doc: {
      ...shared,
      operationId: "backendlessCreateImageEdit",
      summary: "Edit an image (Backendless)",
      description:
        "Backendless's createImageEdit, as an edit job. Without maskUrl the image's own transparency is the mask. saveSourceImage and saveSourceMask keep the inputs in the tenant's sources folder.",
      body: {
        schema: createImageEditRequest,
        example: {
          imageUrl: "https://example.com/flower-field-original.png",
          maskUrl: "https://example.com/flower-field-mask.png",
          prompt: "A flower field with Spiderman",
          numberOfImages: 2,
        },
      },
      responses: images,
    },
    handle: async (ctx) => {
      const body = parseBody(ctx, createImageEditRequest);
      return run(deps, ctx, "edit", body, {
        prompt: body.prompt,
        image: body.imageUrl,
        mask: body.maskUrl,
        output_size: body.size ?? "1024x1024",
        user: body.user,
        save_source_image: truthy(body.saveSourceImage),
        save_source_mask: truthy(body.saveSourceMask),
      });
    },
  },
  {
    method: "POST",
    path: `${base}/createImageVariation`,
    errorShape: backendlessErrors,
    doc: {
      ...shared,
      operationId: "backendlessCreateImageVariation",
      summary: "Create variations of an image (Backendless)",
      description:
        "Backendless's createImageVariation, as a variation job. saveSourceImage keeps the input in the tenant's sources folder.",
      body: {
        schema: createImageVariationRequest,
        example: { imageUrl: "https://example.com/burger.png", numberOfImages: 2 },
      },
      responses: images,
    },
    handle: async (ctx) => {
      const body = parseBody(ctx, createImageVariationRequest);
      return run(deps, ctx, "variation", body, {
        image: body.imageUrl,
        output_size: body.size ?? "1024x1024",
        user: body.user,
        save_source_image: truthy(body.saveSourceImage),
      });
    },
  },
];

const parseBody = <T extends z.ZodMiniType>(ctx: RouteContext, schema: T): z.infer<T> =>
  parseRequest(schema, jsonBody(ctx.req));
