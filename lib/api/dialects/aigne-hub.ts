import * as z from "zod/mini";
import { outputRequestFields } from "../../jobs/operations/output.ts";
import { parseRequest } from "../../validation.ts";
import { jsonBody } from "../http.ts";
import type { ErrorShape, Route } from "../router.ts";
import type { RouteDeps } from "../routes/deps.ts";
import { syncResponses } from "../routes/images.ts";
import { answer, imageStrings, runJob } from "./shared.ts";

// AIGNE Hub's POST /api/images/generations: a generate job, or an edit job when `image` is given, answered as
// {created, data: [{url | b64_json}]}. Its default model, dall-e-2, is retired, as is dall-e-3: a retired model is
// served by its catalog replacement (ProviderRegistry.current), and `quality` and `style`, which AIGNE Hub documents
// as dall-e-3's, apply only where the model serving the request has them. `size` is `output_size`, so dall-e-2's
// 256x256 and 512x512 are still delivered.

const path = "/api/images/generations";
/** AIGNE Hub's documented default. */
const defaultModel = "dall-e-2";

/** AIGNE Hub's error body, from its Express error handler: {error: {message}}, here with a type and a code. */
export const aigneErrors: ErrorShape = {
  prefix: "/api/images/",
  schema: "AigneError",
  body: (err) => ({ error: { message: err.message, type: err.type, code: err.code } }),
};

const imageText = z.string().check(z.minLength(1));

export const aigneGenerationsRequest = z.strictObject({
  prompt: z.string().check(z.minLength(1)),
  model: z.optional(
    z
      .string()
      .check(
        z.minLength(1),
        z.maxLength(128),
        z.describe("dall-e-2 by default. Retired models are served by their replacement (GET /v1/models)."),
      ),
  ),
  image: z.optional(
    z
      .union([imageText, z.array(imageText).check(z.minLength(1), z.maxLength(16))])
      .check(z.describe("The image(s) to edit: URLs or base64. Given, the request is an edit.")),
  ),
  n: z.optional(z.number().check(z.int(), z.gte(1), z.lte(10))),
  size: z.optional(
    z
      .string()
      .check(
        z.regex(/^\d{1,4}x\d{1,4}$/, "must be WIDTHxHEIGHT, such as 1024x1024"),
        z.describe("1024x1024 by default; made at the model's nearest size and resized to this one."),
      ),
  ),
  response_format: z.optional(z.enum(["url", "b64_json"])),
  quality: outputRequestFields.quality,
  style: z.optional(z.enum(["vivid", "natural"])),
});

export const aigneRoutes = (deps: RouteDeps): Route[] => [
  {
    method: "POST",
    path,
    errorShape: aigneErrors,
    doc: {
      operationId: "aigneCreateImage",
      summary: "Create or edit images (AIGNE Hub)",
      description:
        "AIGNE Hub's image generation: a generate job, or an edit job when image is given. dall-e-2 (the default) and dall-e-3 are retired and served by their catalog replacement; quality and style apply where that model has them.",
      tag: "AIGNEHub",
      body: {
        schema: aigneGenerationsRequest,
        example: {
          prompt: "A photorealistic image of a cat programming on a laptop",
          n: 1,
          size: "1024x1024",
        },
      },
      ...syncResponses,
      responses: {
        200: {
          description: "The images: presigned URLs, or base64 with response_format b64_json.",
          schema: "AigneImages",
          headers: { "x-job-id": "The job that made them; GET /v1/jobs/{id} shows it." },
        },
      },
    },
    handle: async (ctx) => {
      const body = parseRequest(aigneGenerationsRequest, jsonBody(ctx.req));
      const model = deps.registry.current(body.model ?? defaultModel);
      const spec = deps.registry.model(model);
      const operation = body.image === undefined ? "generate" : "edit";
      const format = body.response_format ?? "url";
      const job = await runJob(
        deps,
        ctx,
        operation,
        {
          prompt: body.prompt,
          model,
          image: body.image,
          n: body.n,
          output_size: body.size ?? "1024x1024",
          response_format: format,
          quality:
            body.quality !== undefined && spec?.qualities.includes(body.quality) ? body.quality : undefined,
          style:
            operation === "generate" && body.style !== undefined && spec?.styles.includes(body.style)
              ? body.style
              : undefined,
        },
        { images: "image", output_size: "size" },
      );
      const data = (await imageStrings(job, deps, format)).map((s) =>
        format === "url" ? { url: s } : { b64_json: s },
      );
      return answer(job, { created: Math.floor(job.created_at / 1000), data });
    },
  },
];
