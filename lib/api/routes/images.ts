import { ApiError, ResponseTooLargeError, SyncWaitTimeoutError } from "../../errors.ts";
import type { Job } from "../../jobs/model.ts";
import { editRequest } from "../../jobs/operations/edit.ts";
import { generateRequest } from "../../jobs/operations/generate.ts";
import { prepareOperation } from "../../jobs/operations/index.ts";
import { outpaintRequest } from "../../jobs/operations/outpaint.ts";
import { removeBackgroundRequest } from "../../jobs/operations/remove-background.ts";
import { variationRequest } from "../../jobs/operations/variation.ts";
import { imagesResponse, imagesResponseJson } from "../../jobs/view.ts";
import { type FormShape, formBody, isMultipart } from "../form.ts";
import { jsonBody, lambdaResponseLimitBytes } from "../http.ts";
import { imageStream } from "../image-stream.ts";
import type { OperationDoc } from "../reference/operation.ts";
import type { Route, RouteContext } from "../router.ts";
import { sseHeaders } from "../sse.ts";
import type { RouteDeps } from "./deps.ts";

/** HTTP status for a failed job's error code when a sync request reports it. */
const failedJobStatus: Record<string, number> = {
  content_policy_violation: 400,
  invalid_request_error: 400,
  provider_rate_limited: 429,
  insufficient_quota: 503,
  provider_authentication_failed: 502,
  provider_unavailable: 502,
  provider_timeout: 504,
  provider_bad_response: 502,
  // Canceled through POST /v1/jobs/{id}/cancel (the x-job-id of this request) while it waited.
  canceled: 409,
};

function failedJobError(job: Job): ApiError {
  const err = job.error ?? { type: "server_error", code: "internal_error", message: "The job failed." };
  return new ApiError(failedJobStatus[err.code] ?? 500, err.type, err.message, {
    code: err.code,
    headers: { "x-job-id": job.id },
  });
}

/**
 * Waits (bounded) for a submitted job and returns it succeeded; a job still running is a 504 (job_pending), a
 * failed or canceled one the error its code maps to. Every synchronous face of a job, in any API, waits here.
 */
export async function succeeded(deps: RouteDeps, submitted: Job): Promise<Job> {
  const job = await deps.jobs.waitForTerminal(submitted.tenant, submitted.id, deps.syncWaitMs);
  if (!job || job.status === "queued" || job.status === "running") {
    throw new SyncWaitTimeoutError(submitted.id, deps.syncWaitMs);
  }
  if (job.status !== "succeeded") throw failedJobError(job);
  return job;
}

/** The OpenAI-compatible, synchronous face of a job: submit, wait (bounded), answer as OpenAI does. */
export async function runSync(deps: RouteDeps, submitted: Job, responseFormat: "url" | "b64_json") {
  const job = await succeeded(deps, submitted);
  if (responseFormat === "b64_json") {
    // Known from the stored sizes before any image is read: refused without loading megabytes for nothing.
    const bytes = (job.output?.images ?? []).reduce((sum, img) => sum + Math.ceil(img.bytes / 3) * 4, 0);
    if (bytes > lambdaResponseLimitBytes)
      throw new ResponseTooLargeError(bytes, lambdaResponseLimitBytes, job.id);
  }
  return {
    status: 200,
    headers: { "x-job-id": job.id, "content-type": "application/json" },
    // Serialised here, where the base64 can be spliced in without a second pass over it.
    text: imagesResponseJson(await imagesResponse(job, deps.images, responseFormat)),
  };
}

/** Multipart fields of the edit and variation endpoints, as the openai SDK sends them. */
export const imageForm: FormShape = {
  files: ["image", "images", "mask"],
  numbers: ["n", "output_compression", "border_percentage", "partial_images"],
  booleans: ["save_source_image", "save_source_mask", "stream"],
  texts: ["prompt"],
};

/**
 * The size OpenAI's spec gives multipart edits (CreateImageEditRequest) and variations
 * (CreateImageVariationRequest) when none is asked for; its JSON edits and generations take "auto".
 */
const openAIFormSize = "1024x1024";

async function submitSync(
  deps: RouteDeps,
  ctx: RouteContext,
  operation: Job["operation"],
  body: Record<string, unknown>,
  defaultSize?: string,
) {
  const prepared = await prepareOperation(
    operation,
    body,
    { ...deps, ...(defaultSize && { defaultSize }) },
    ctx.principal.tenant,
  );
  const submitted = await deps.jobs.submit({ principal: ctx.principal, ...prepared });
  if (body.stream === true) {
    // OpenAI's image stream (lib/api/image-stream.ts): live through the Function URL, whole behind the HTTP API.
    const kind = operation === "generate" ? "image_generation" : "image_edit";
    return {
      status: 200,
      headers: { ...sseHeaders, "x-job-id": submitted.id },
      events: imageStream(deps, submitted, kind, failedJobError),
    };
  }
  return runSync(deps, submitted, prepared.work.input.response_format);
}

/** The 200 of an endpoint that streams with `stream: true`: its events, beside the usual JSON. */
const streamable = (
  events: "ImageGenStreamEvent" | "ImageEditStreamEvent",
): Pick<OperationDoc, "responses"> => ({
  responses: {
    200: {
      ...syncResponses.responses[200],
      description:
        "The images: presigned URLs, or base64 with response_format=b64_json. With stream: true, OpenAI's image events (text/event-stream): partial_images previews, then each image with usage; an error after the stream began comes as an `error` event. Through the Function URL they arrive as they are made, behind the HTTP API all at once when the job ends.",
      events,
    },
  },
});

/** What every synchronous image endpoint answers, beside the usual errors. */
export const syncResponses: Pick<OperationDoc, "responses" | "errors"> = {
  responses: {
    200: {
      description:
        "The images: base64 (b64_json) unless response_format is url, or the deployment's DEFAULT_RESPONSE_FORMAT is; url gives presigned URLs of the images in this deployment's bucket. background, quality, size and output_format describe the images made; usage is the provider's token figures, when it reports them.",
      schema: "ImagesResponse",
      headers: { "x-job-id": "The job that made them; GET /v1/jobs/{id} shows it." },
    },
  },
  errors: {
    400: "The images as base64 would be over the 6 MB a synchronous answer can carry (code response_too_large): ask for response_format url, or read the job named by x-job-id.",
    409: "The job was canceled (POST /v1/jobs/{id}/cancel) while the request waited.",
    502: "The provider failed or answered badly.",
    503: "The provider's quota is exhausted.",
    504: "The job outlived the wait (code job_pending): it goes on; poll the job named by x-job-id.",
  },
};

export const imageRoutes = (deps: RouteDeps): Route[] => [
  {
    method: "POST",
    path: "/v1/images/generations",
    idempotent: true,
    doc: {
      operationId: "createImage",
      summary: "Create images from a prompt",
      description:
        "OpenAI's images.generate: the job is queued, run by the worker and answered when it finishes. size or aspect_ratio are checked against the model (GET /v1/models).",
      tag: "Images",
      body: {
        schema: generateRequest,
        example: { prompt: "A lighthouse at dusk, watercolor", size: "1024x1024" },
      },
      ...syncResponses,
      ...streamable("ImageGenStreamEvent"),
    },
    handle: (ctx) => submitSync(deps, ctx, "generate", jsonBody(ctx.req)),
  },
  {
    method: "POST",
    path: "/v1/images/edits",
    doc: {
      operationId: "createImageEdit",
      summary: "Edit images, or extend one outward",
      description:
        "OpenAI's images.edit, as multipart (files) or JSON (URLs, data URLs, base64, or an earlier job's output as {job_id, index}). With border_percentage the image grows on every side and the model fills the border (outpainting); the service makes the canvas and mask.",
      tag: "Images",
      body: {
        schema: [editRequest, outpaintRequest],
        form: imageForm,
        single: ["mask"],
        example: { image: "https://example.com/photo.png", prompt: "Add a red scarf", size: "1024x1024" },
      },
      ...syncResponses,
      ...streamable("ImageEditStreamEvent"),
    },
    handle: (ctx) => {
      const body = formBody(ctx.req, imageForm);
      // An edit whose mask is the border: the same endpoint outpaints when given `border_percentage`.
      if (body.border_percentage != null) return submitSync(deps, ctx, "outpaint", body);
      // null is "not given", as for every optional parameter.
      const { border_percentage: _, ...edit } = body;
      return submitSync(deps, ctx, "edit", edit, isMultipart(ctx.req) ? openAIFormSize : undefined);
    },
  },
  {
    method: "POST",
    path: "/v1/images/variations",
    doc: {
      operationId: "createImageVariation",
      summary: "Create variations of an image",
      description:
        "OpenAI's images.createVariation. Models without a variations endpoint make them with an edit (the job's output.method says which).",
      tag: "Images",
      body: {
        schema: variationRequest,
        form: imageForm,
        example: { image: "https://example.com/photo.png", n: 2 },
      },
      ...syncResponses,
    },
    handle: (ctx) => submitSync(deps, ctx, "variation", formBody(ctx.req, imageForm), openAIFormSize),
  },
  {
    // Not OpenAI's: the edits endpoint's shape (multipart or JSON) for models with `remove_background`.
    method: "POST",
    path: "/v1/images/remove-background",
    doc: {
      operationId: "removeImageBackground",
      summary: "Remove an image's background",
      description:
        "Not an OpenAI endpoint: the edits endpoint's shape (multipart or JSON) for models that offer remove_background (GET /v1/models lists their operations). The subject is kept and the background made transparent.",
      tag: "Images",
      body: {
        schema: removeBackgroundRequest,
        form: imageForm,
        example: { image: "https://example.com/product.jpg", model: "placeholder", output_format: "png" },
      },
      ...syncResponses,
    },
    handle: (ctx) => submitSync(deps, ctx, "remove_background", formBody(ctx.req, imageForm)),
  },
];
