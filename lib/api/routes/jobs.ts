import * as z from "zod/mini";
import { InvalidRequestError, NotFoundError } from "../../errors.ts";
import { jobPriority } from "../../jobs/batch.ts";
import { isTerminal, type Job, jobIdPattern, metadataSchema, operations } from "../../jobs/model.ts";
import { operationSpecs, prepareOperation } from "../../jobs/operations/index.ts";
import { jobResource } from "../../jobs/view.ts";
import { checkWebhook, webhookRequest } from "../../jobs/webhook.ts";
import { parseRequest } from "../../validation.ts";
import { jsonBody } from "../http.ts";
import { deadlineOf, encodeCursor, listQuery, listRequest, preferredWait } from "../job-options.ts";
import type { Resource } from "../reference/responses.ts";
import type { Route, RouteContext } from "../router.ts";
import type { RouteDeps } from "./deps.ts";

export const jobRequest = z.strictObject({
  operation: z.enum(operations),
  input: z.record(z.string(), z.unknown()),
  metadata: z.optional(
    metadataSchema.check(z.refine((m) => Object.keys(m).length <= 16, "metadata may have at most 16 keys")),
  ),
  webhook: z.optional(webhookRequest),
  /** ISO 8601; an unfinished job is canceled then. The `Cancel-After` header sets it as a duration. */
  deadline: z.optional(z.iso.datetime({ offset: true })),
  priority: z.optional(
    jobPriority.check(
      z.describe(
        "interactive (the default) runs first; batch runs in a lane of its own that never delays interactive jobs, and, where the deployment enables it, generates through OpenAI's Batch API at its lower price (within 24 hours).",
      ),
    ),
  ),
});

async function findJob(deps: RouteDeps, ctx: RouteContext): Promise<Job> {
  const id = ctx.params.id ?? "";
  // Another tenant's job is as absent as a job that never existed: 404, never 403.
  const job = jobIdPattern.test(id) ? await deps.jobs.get(ctx.principal.tenant, id) : undefined;
  if (!job) throw new NotFoundError(`No job with id '${id}'.`, { param: "id" });
  return job;
}

export const jobRoutes = (deps: RouteDeps): Route[] => [
  {
    method: "POST",
    path: "/v1/jobs",
    idempotent: true,
    doc: {
      operationId: "createJob",
      summary: "Submit an image job",
      description:
        "Any operation without waiting: input is the body its images endpoint takes (generate: POST /v1/images/generations, edit, variation, outpaint: POST /v1/images/edits with border_percentage). Answers 202 with the queued job, or 201 with the finished job when Prefer: wait lets it finish first.",
      tag: "Jobs",
      body: {
        // What is accepted: jobRequest, then `input` by the operation's own request schema (prepareOperation).
        schema: () =>
          operations.map((operation) =>
            z.extend(jobRequest, {
              operation: z.literal(operation),
              input: operationSpecs[operation].request,
            }),
          ),
        example: {
          operation: "generate",
          input: { prompt: "A lighthouse at dusk, watercolor" },
          metadata: { order: "1234" },
          priority: "interactive",
          webhook: { url: "https://example.com/hooks/images", events: ["job.succeeded", "job.failed"] },
        },
      },
      headers: ["Prefer", "Cancel-After"],
      responses: {
        201: {
          description: "The job finished within Prefer: wait.",
          schema: "Job",
          headers: { location: "/v1/jobs/{id}", "preference-applied": "wait=N, the wait applied." },
        },
        202: {
          description: "The job is queued or running.",
          schema: "Job",
          headers: {
            location: "/v1/jobs/{id}",
            "preference-applied": "wait=N, when Prefer: wait was given.",
          },
        },
      },
    },
    handle: async (ctx) => {
      const body = parseRequest(jobRequest, jsonBody(ctx.req));
      if (body.input.stream === true) {
        throw new InvalidRequestError(
          "A job does not stream its answer: follow it with GET /v1/jobs/{id}/events, which sends its partial images (input.partial_images) as they come.",
          { param: "input.stream" },
        );
      }
      const webhook = body.webhook && checkWebhook(body.webhook, deps.urlPolicy);
      const deadline = deadlineOf(ctx.req, body.deadline, Date.now());
      const wait = preferredWait(ctx.req, deps.syncWaitMs);
      const prepared = await prepareOperation(
        body.operation,
        body.input,
        deps,
        ctx.principal.tenant,
        "input",
      );
      const submitted = await deps.jobs.submit({
        principal: ctx.principal,
        ...prepared,
        metadata: body.metadata,
        webhook,
        deadline,
        priority: body.priority,
      });
      const job = wait
        ? ((await deps.jobs.waitForTerminal(submitted.tenant, submitted.id, wait.ms)) ?? submitted)
        : submitted;
      // 202 while the job is queued or running; 201 when it finished within `Prefer: wait`.
      return {
        status: isTerminal(job.status) ? 201 : 202,
        headers: {
          location: `/v1/jobs/${job.id}`,
          ...(wait && { "preference-applied": wait.applied }),
        },
        body: await jobResource(job, deps.images),
      };
    },
  },
  {
    method: "GET",
    path: "/v1/jobs",
    doc: {
      operationId: "listJobs",
      summary: "List jobs, newest first",
      description:
        "A page of the caller's jobs; next_cursor, given as after, fetches the next page with the same filters.",
      tag: "Jobs",
      query: listRequest,
      responses: { 200: { description: "A page of jobs.", schema: "JobList" } },
    },
    handle: async (ctx) => {
      const query = listQuery(ctx.principal.tenant, ctx.req.query);
      const page = await deps.jobs.list(query);
      return {
        status: 200,
        body: {
          object: "list",
          data: await Promise.all(page.jobs.map((j) => jobResource(j, deps.images))),
          has_more: page.next !== undefined,
          next_cursor: page.next === undefined ? null : encodeCursor(page.next, query.filters),
        } satisfies Resource<"JobList">,
      };
    },
  },
  {
    method: "GET",
    path: "/v1/jobs/{id}",
    doc: {
      operationId: "getJob",
      summary: "Get a job",
      description: "Its status, and when it succeeded its images as fresh presigned URLs.",
      tag: "Jobs",
      params: { id: "The job's id, job_ followed by 26 characters." },
      responses: { 200: { description: "The job.", schema: "Job" } },
    },
    handle: async (ctx) => ({ status: 200, body: await jobResource(await findJob(deps, ctx), deps.images) }),
  },
  {
    method: "POST",
    path: "/v1/jobs/{id}/cancel",
    doc: {
      operationId: "cancelJob",
      summary: "Cancel a job",
      description:
        "A queued or running job becomes canceled, and its webhook hears job.canceled. Canceling a canceled job returns it again.",
      tag: "Jobs",
      params: { id: "The job's id, job_ followed by 26 characters." },
      responses: { 200: { description: "The job, canceled.", schema: "Job" } },
      errors: { 409: "The job had already succeeded or failed (code job_already_finished)." },
    },
    handle: async (ctx) => {
      const id = ctx.params.id ?? "";
      const job = jobIdPattern.test(id) ? await deps.jobs.cancel(ctx.principal.tenant, id) : undefined;
      if (!job) throw new NotFoundError(`No job with id '${id}'.`, { param: "id" });
      return { status: 200, body: await jobResource(job, deps.images) };
    },
  },
];
