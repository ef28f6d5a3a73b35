import { ApiError, SyncWaitTimeoutError } from "../../errors.ts";
import type { Job } from "../../jobs/model.ts";
import { prepareOperation } from "../../jobs/operations/index.ts";
import { imagesResponse } from "../../jobs/view.ts";
import { type FormShape, formBody } from "../form.ts";
import { jsonBody } from "../http.ts";
import type { Route, RouteContext } from "../router.ts";
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

/** The OpenAI-compatible, synchronous face of a job: submit, wait (bounded), answer as OpenAI does. */
export async function runSync(deps: RouteDeps, submitted: Job, responseFormat: "url" | "b64_json") {
  const job = await deps.jobs.waitForTerminal(submitted.tenant, submitted.id, deps.syncWaitMs);
  if (!job || job.status === "queued" || job.status === "running") {
    throw new SyncWaitTimeoutError(submitted.id, deps.syncWaitMs);
  }
  if (job.status !== "succeeded") throw failedJobError(job);
  return {
    status: 200,
    headers: { "x-job-id": job.id },
    body: await imagesResponse(job, deps.images, responseFormat),
  };
}

/** Multipart fields of the edit and variation endpoints, as the openai SDK sends them. */
const imageForm: FormShape = {
  files: ["image", "images", "mask"],
  numbers: ["n", "output_compression", "border_percentage"],
  booleans: ["save_source_image", "save_source_mask", "stream"],
};

async function submitSync(
  deps: RouteDeps,
  ctx: RouteContext,
  operation: Job["operation"],
  body: Record<string, unknown>,
) {
  const prepared = await prepareOperation(operation, body, deps, ctx.principal.tenant);
  const submitted = await deps.jobs.submit({ principal: ctx.principal, ...prepared });
  return runSync(deps, submitted, prepared.work.input.response_format);
}

export const imageRoutes = (deps: RouteDeps): Route[] => [
  {
    method: "POST",
    path: "/v1/images/generations",
    idempotent: true,
    handle: (ctx) => submitSync(deps, ctx, "generate", jsonBody(ctx.req)),
  },
  {
    method: "POST",
    path: "/v1/images/edits",
    handle: (ctx) => {
      const body = formBody(ctx.req, imageForm);
      // An edit whose mask is the border: the same endpoint outpaints when given `border_percentage`.
      return submitSync(deps, ctx, body.border_percentage === undefined ? "edit" : "outpaint", body);
    },
  },
  {
    method: "POST",
    path: "/v1/images/variations",
    handle: (ctx) => submitSync(deps, ctx, "variation", formBody(ctx.req, imageForm)),
  },
  {
    // Not OpenAI's: the edits endpoint's shape (multipart or JSON) for models with `remove_background`.
    method: "POST",
    path: "/v1/images/remove-background",
    handle: (ctx) => submitSync(deps, ctx, "remove_background", formBody(ctx.req, imageForm)),
  },
];
