import { ApiError, SyncWaitTimeoutError } from "../../errors.ts";
import type { Job } from "../../jobs/model.ts";
import { generateRequest, prepareGenerate } from "../../jobs/operations/generate.ts";
import { imagesResponse } from "../../jobs/view.ts";
import { parseRequest } from "../../validation.ts";
import { jsonBody } from "../http.ts";
import type { Route } from "../router.ts";
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

export const imageRoutes = (deps: RouteDeps): Route[] => [
  {
    method: "POST",
    path: "/v1/images/generations",
    handle: async (ctx) => {
      const body = parseRequest(generateRequest, jsonBody(ctx.req));
      const input = prepareGenerate(body, deps.registry);
      const provider = deps.registry.resolve(input.model, "generate").provider.name;
      const submitted = await deps.jobs.submit({ principal: ctx.principal, input, provider });
      return runSync(deps, submitted, input.response_format);
    },
  },
];
