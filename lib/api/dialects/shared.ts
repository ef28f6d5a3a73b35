import type { Job } from "../../jobs/model.ts";
import { prepareOperation } from "../../jobs/operations/index.ts";
import type { ParamName } from "../../jobs/operations/output.ts";
import type { ApiResponse } from "../http.ts";
import type { RouteContext } from "../router.ts";
import type { RouteDeps } from "../routes/deps.ts";
import { succeeded } from "../routes/images.ts";

// What every dialect shares: a request translated into the jobs API's own terms is submitted as any other job,
// waited for as /v1/images/* wait, and its images handed back in the form the dialect answers with. The dialects
// translate field names and shapes only; validation against the model, storage and the pipeline are the jobs API's.

/** Error messages and `param`s name fields as the dialect's clients sent them: `numberOfImages`, not `n`. */
export function renamed(names: Readonly<Record<string, string>>): ParamName {
  return (name) => names[name] ?? name.replace(/^[a-z_]+/, (head) => names[head] ?? head);
}

/** The request without the fields the client left out, so the job records only what was asked. */
function given(request: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(request).filter(([, v]) => v !== undefined));
}

/** Submits `request` (the jobs API's input for `operation`) as the caller's job and returns it once it succeeded. */
export async function runJob(
  deps: RouteDeps,
  ctx: RouteContext,
  operation: Job["operation"],
  request: Record<string, unknown>,
  names: Readonly<Record<string, string>>,
): Promise<Job> {
  const prepared = await prepareOperation(
    operation,
    given(request),
    deps,
    ctx.principal.tenant,
    renamed(names),
  );
  return succeeded(deps, await deps.jobs.submit({ principal: ctx.principal, ...prepared }));
}

/** The job's images, in order: fresh presigned URLs, or base64. */
export function imageStrings(job: Job, deps: RouteDeps, format: "url" | "b64_json"): Promise<string[]> {
  return Promise.all(
    (job.output?.images ?? []).map(async (img) =>
      format === "url" ? deps.images.url(img.key) : (await deps.images.get(img.key)).toString("base64"),
    ),
  );
}

/** A 200 in the dialect's shape, naming the job behind it as /v1/images/* do. */
export const answer = (job: Job, body: unknown): ApiResponse => ({
  status: 200,
  headers: { "x-job-id": job.id },
  body,
});
