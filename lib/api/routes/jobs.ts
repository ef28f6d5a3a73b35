import * as z from "zod/mini";
import { NotFoundError } from "../../errors.ts";
import { type Job, jobIdPattern, metadataSchema, operations } from "../../jobs/model.ts";
import { generateRequest, prepareGenerate } from "../../jobs/operations/generate.ts";
import { jobResource } from "../../jobs/view.ts";
import { parseRequest } from "../../validation.ts";
import { jsonBody } from "../http.ts";
import type { Route, RouteContext } from "../router.ts";
import type { RouteDeps } from "./deps.ts";

export const jobRequest = z.strictObject({
  operation: z.enum(operations),
  input: z.record(z.string(), z.unknown()),
  metadata: z.optional(
    metadataSchema.check(z.refine((m) => Object.keys(m).length <= 16, "metadata may have at most 16 keys")),
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
    handle: async (ctx) => {
      const body = parseRequest(jobRequest, jsonBody(ctx.req));
      const request = parseRequest(generateRequest, body.input, "input");
      const input = prepareGenerate(request, deps.registry, "input.");
      const provider = deps.registry.resolve(input.model, "generate").provider.name;
      const job = await deps.jobs.submit({
        principal: ctx.principal,
        input,
        provider,
        metadata: body.metadata,
      });
      return {
        status: 202,
        headers: { location: `/v1/jobs/${job.id}` },
        body: await jobResource(job, deps.images),
      };
    },
  },
  {
    method: "GET",
    path: "/v1/jobs/{id}",
    handle: async (ctx) => ({ status: 200, body: await jobResource(await findJob(deps, ctx), deps.images) }),
  },
];
