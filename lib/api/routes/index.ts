import { dialectRoutes } from "../dialects/index.ts";
import type { Route } from "../router.ts";
import { adminRoutes } from "./admin.ts";
import type { RouteDeps } from "./deps.ts";
import { healthRoutes } from "./health.ts";
import { imageRoutes } from "./images.ts";
import { jobEventRoutes } from "./job-events.ts";
import { jobRoutes } from "./jobs.ts";
import { modelRoutes } from "./models.ts";
import { playgroundRoutes } from "./playground.ts";
import { referenceRoutes } from "./reference.ts";
import { uploadRoutes } from "./uploads.ts";
import { webhookRoutes } from "./webhooks.ts";

export type { RouteDeps } from "./deps.ts";

/**
 * Every route the API serves, one module per area. Each declares its `doc` (lib/api/router.ts); the reference
 * routes describe this very list. Route factories use `deps` only inside handlers (test/unit/openapi.test.ts
 * defines them with dependencies that throw when touched), so the reference can be generated from `routes`
 * without a running service, at bundle time (infra/api-reference.ts).
 */
export function routes(deps: RouteDeps): Route[] {
  const all: Route[] = [
    ...healthRoutes(),
    ...modelRoutes(deps),
    ...imageRoutes(deps),
    ...jobRoutes(deps),
    ...jobEventRoutes(deps),
    ...uploadRoutes(deps),
    ...webhookRoutes(deps),
    ...adminRoutes(deps),
    // Backendless, Vision Studio and AIGNE Hub's APIs, translated into jobs at the edge.
    ...dialectRoutes(deps),
    // Static files, not API: keep out of the API's documentation.
    ...(deps.playground ? playgroundRoutes(deps.playground) : []),
  ];
  all.push(...referenceRoutes(() => all));
  return all;
}
