import type { Route } from "../router.ts";
import { adminRoutes } from "./admin.ts";
import type { RouteDeps } from "./deps.ts";
import { healthRoutes } from "./health.ts";
import { imageRoutes } from "./images.ts";
import { jobRoutes } from "./jobs.ts";
import { modelRoutes } from "./models.ts";
import { playgroundRoutes } from "./playground.ts";
import { webhookRoutes } from "./webhooks.ts";

export type { RouteDeps } from "./deps.ts";

/** Every route the API serves, one module per area. */
export function routes(deps: RouteDeps): Route[] {
  return [
    ...healthRoutes(),
    ...modelRoutes(deps),
    ...imageRoutes(deps),
    ...jobRoutes(deps),
    ...webhookRoutes(deps),
    ...adminRoutes(deps),
    // Static files, not API: keep out of the API's documentation.
    ...(deps.playground ? playgroundRoutes(deps.playground) : []),
  ];
}
