import { fileURLToPath } from "node:url";
import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import {
  type ApiDeps,
  createApiHandler,
  createStreamingApiHandler,
  type FrontDoor,
  type StreamedResult,
} from "../api/app.ts";
import { Idempotency } from "../api/idempotency.ts";
import { routes } from "../api/routes/index.ts";
import type { PlaygroundOptions } from "../api/routes/playground.ts";
import { AdminKey } from "../auth/admin.ts";
import type { ServiceConfig } from "../config.ts";
import type { JobService } from "../jobs/service.ts";
import {
  disabledEndpoints,
  imageSources,
  imageStore,
  jobQueue,
  jobService,
  jobStore,
  keyStore,
  limits,
  usageLedger,
  webhookQueue,
  webhookSecrets,
} from "./adapters.ts";
import { startFunction } from "./lambda.ts";
import type { Observability } from "./observability.ts";
import { createRegistry, routedProviders } from "./providers.ts";
import { type FunctionFactory, type Scope, scope } from "./scope.ts";
import { withAdminKey, withCdnKey } from "./secrets.ts";

export type { FrontDoor, ResponseStreamHandler, StreamedResult } from "../api/app.ts";

/** An API function: its front door (functions/api.ts, functions/api-stream.ts put it at the end of their chain). */
export interface ApiRuntime<R> {
  observability: Observability;
  api: FrontDoor<R>;
  /** Where its jobs are made. */
  jobs: JobService;
}

/** The playground's files, and the origin its images load from: the S3 endpoint (emulator) or S3 itself. */
function playgroundOptions(config: ServiceConfig): PlaygroundOptions {
  const s3Endpoint = config.AWS_ENDPOINT_URL_S3 ?? config.AWS_ENDPOINT_URL;
  return {
    dir: config.PLAYGROUND_DIR ?? fileURLToPath(new URL("../../web/dist", import.meta.url)),
    imageOrigins: [s3Endpoint ? new URL(s3Endpoint).origin : "https://*.amazonaws.com"],
  };
}

/** What both API front doors are made of. */
function apiDeps(s: Scope): { deps: ApiDeps; jobs: JobService } {
  const { config, observability: o } = s;
  const store = jobStore(s);
  const images = imageStore(s);
  const requestLimits = limits(s, store);
  const usage = usageLedger(s);
  const jobs = jobService(s, {
    store,
    queue: jobQueue(s),
    webhooks: webhookQueue(s),
    limits: requestLimits,
    usage,
  });
  const keys = keyStore(s);
  const deps: ApiDeps = {
    keys,
    admin: new AdminKey(config.ADMIN_API_KEY),
    limits: requestLimits,
    routes: routes({
      jobs,
      images,
      // Routes by provider name; the worker calls the provider.
      registry: createRegistry(config, routedProviders(config)),
      sources: imageSources(s, jobs, images),
      syncWaitMs: config.SYNC_WAIT_MS,
      defaultResponseFormat: config.DEFAULT_RESPONSE_FORMAT,
      webhookSecrets: webhookSecrets(s),
      disabledEndpoints: disabledEndpoints(s),
      urlPolicy: s.urlPolicy,
      keys,
      usage,
      playground: playgroundOptions(config),
    }),
    logger: o.logger,
    maxRequestBytes: config.MAX_REQUEST_BYTES,
    idempotency: new Idempotency(
      { db: s.clients.dynamodb, s3: s.clients.s3 },
      { table: config.JOBS_TABLE, bucket: config.IMAGES_BUCKET },
      o.logger,
      s.options.idempotency,
    ),
  };
  return { deps, jobs };
}

/** The API behind the HTTP API: answers whole (a streamed image request when its job ends). */
export const createApi: FunctionFactory<ApiRuntime<APIGatewayProxyStructuredResultV2>> = (
  config,
  clients,
  options,
) => {
  const s = scope("api", config, clients, options);
  const { deps, jobs } = apiDeps(s);
  return { observability: s.observability, api: createApiHandler(deps), jobs };
};

/**
 * The API behind a Function URL with InvokeMode RESPONSE_STREAM: the same API, whose SSE answers (stream: true,
 * job events) go out as they are made.
 */
export const createStreamingApi: FunctionFactory<ApiRuntime<StreamedResult>> = (config, clients, options) => {
  const s = scope("api", config, clients, options);
  const { deps, jobs } = apiDeps(s);
  return { observability: s.observability, api: createStreamingApiHandler(deps), jobs };
};

// Cold start: the admin key from Secrets Manager, and CloudFront's signing key when images go through the CDN. The
// API never reads the provider key: OPENAI_ENABLED, set by the stack, says the worker has one. No tracer: the one
// function a user waits on keeps the X-Ray SDK out (lib/tracing.ts).
const apiSecrets = [withAdminKey, withCdnKey];

export const startApi = () => startFunction("api", createApi, { secrets: apiSecrets });

export const startStreamingApi = () => startFunction("api", createStreamingApi, { secrets: apiSecrets });
