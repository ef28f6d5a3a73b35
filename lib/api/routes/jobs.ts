import * as z from "zod/mini";
import { NotFoundError } from "../../errors.ts";
import { isTerminal, type Job, jobIdPattern, metadataSchema, operations } from "../../jobs/model.ts";
import { prepareOperation } from "../../jobs/operations/index.ts";
import { jobResource } from "../../jobs/view.ts";
import { parseRequest } from "../../validation.ts";
import { jsonBody } from "../http.ts";
import {
  deadlineOf,
  encodeCursor,
  listQuery,
  preferredWait,
  webhookConfig,
  webhookRequest,
} from "../job-options.ts";
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
    handle: async (ctx) => {
      const body = parseRequest(jobRequest, jsonBody(ctx.req));
      const webhook = body.webhook && webhookConfig(body.webhook, deps.urlPolicy);
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
        },
      };
    },
  },
  {
    method: "GET",
    path: "/v1/jobs/{id}",
    handle: async (ctx) => ({ status: 200, body: await jobResource(await findJob(deps, ctx), deps.images) }),
  },
  {
    method: "POST",
    path: "/v1/jobs/{id}/cancel",
    handle: async (ctx) => {
      const id = ctx.params.id ?? "";
      const job = jobIdPattern.test(id) ? await deps.jobs.cancel(ctx.principal.tenant, id) : undefined;
      if (!job) throw new NotFoundError(`No job with id '${id}'.`, { param: "id" });
      return { status: 200, body: await jobResource(job, deps.images) };
    },
  },
];
