import type { Route } from "../router.ts";
import type { RouteDeps } from "../routes/deps.ts";
import { aigneRoutes } from "./aigne-hub.ts";
import { backendlessRoutes } from "./backendless.ts";
import { visionStudioRoutes } from "./vision-studio.ts";

/**
 * Other services' image APIs, served as they document them so their clients move over by changing the host and
 * adding a key (docs/dialects.md). Each is a thin adapter: its request becomes a job of the jobs API, its answer
 * and its errors take the service's shape.
 */
export const dialectRoutes = (deps: RouteDeps): Route[] => [
  ...backendlessRoutes(deps),
  ...visionStudioRoutes(deps),
  ...aigneRoutes(deps),
];
