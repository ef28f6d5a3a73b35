import { Readable, type Writable } from "node:stream";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import type { AdminKey } from "../auth/admin.ts";
import type { KeyStore, Principal } from "../auth/keys.ts";
import { AuthenticationError, PermissionDeniedError, ResponseTooLargeError, toApiError } from "../errors.ts";
import type { RequestLimiter } from "../limits/limits.ts";
import type { Logger } from "../logging.ts";
import { headResult, lambdaOverflow, lambdaResponseLimitBytes, toRequest, toResult } from "./http.ts";
import type { Idempotency } from "./idempotency.ts";
import { type Route, Router } from "./router.ts";
import { errorFrame } from "./sse.ts";

export interface ApiDeps {
  keys: KeyStore;
  admin: AdminKey;
  /** Per-key request rate, counted after authentication. */
  limits?: RequestLimiter;
  routes: readonly Route[];
  logger: Logger;
  maxRequestBytes: number;
  /** Applies to routes marked `idempotent`. */
  idempotency: Idempotency;
}

/**
 * An API front door, for its middy chain: `answer` handles a request and throws on failure; `rejected` is the
 * answer for a request that failed (the chain's error middleware calls it, lib/middleware/errors.ts).
 */
export interface FrontDoor<R> {
  answer(event: APIGatewayProxyEventV2, context: Context): Promise<R>;
  rejected(event: APIGatewayProxyEventV2, err: unknown): R;
}

/** What a RESPONSE_STREAM handler answers (middy's streamifyResponse): the prelude, then the body as a stream. */
export interface StreamedResult {
  statusCode: number;
  headers: Record<string, string>;
  cookies?: string[];
  body: Readable;
}

/** A request's answer: the result, and the SSE body a streaming route produces (`ApiResponse.events`). */
interface Answer {
  result: APIGatewayProxyStructuredResultV2;
  events?: AsyncIterable<string>;
}

function credential(headers: Record<string, string>): string | undefined {
  const auth = headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m?.[1];
  }
  return headers["x-api-key"]?.trim() || undefined;
}

const anonymous: Principal = { tenant: "", keyId: "", limits: {} };
const adminPrincipal: Principal = { tenant: "", keyId: "admin", limits: {} };

/** What a request is while it runs: when it started and who is calling, for the line that logs its outcome. */
interface InFlight {
  started: number;
  caller?: Principal;
}

/**
 * Route, authenticate and run (`dispatch`, which throws), and map every error to OpenAI's envelope in one place
 * (`rejected`); both front doors use it.
 */
function createDispatcher(
  deps: ApiDeps,
  router: Router,
): {
  dispatch(event: APIGatewayProxyEventV2): Promise<Answer>;
  rejected(event: APIGatewayProxyEventV2, err: unknown): Answer;
} {
  const inFlight = new WeakMap<APIGatewayProxyEventV2, InFlight>();
  /** Who is calling: the admin key for admin routes, a tenant key for the rest; 401 or 403 otherwise. */
  const authenticate = async (route: Route, key: string | undefined): Promise<Principal> => {
    if (route.public) return anonymous;
    const isAdmin = deps.admin.matches(key);
    if (route.admin) {
      if (isAdmin) return adminPrincipal;
      if (key && (await deps.keys.authenticate(key))) {
        throw new PermissionDeniedError("This route needs the admin key; tenant keys cannot use /admin.");
      }
      throw new AuthenticationError(
        deps.admin.enabled
          ? "Missing or invalid admin key. Send `Authorization: Bearer <ADMIN_API_KEY>`."
          : "The admin API is disabled on this deployment: ADMIN_API_KEY is not set.",
      );
    }
    if (isAdmin) {
      throw new PermissionDeniedError(
        "The admin key is for /admin only. Create a tenant key with POST /admin/keys.",
      );
    }
    const principal = key ? await deps.keys.authenticate(key) : undefined;
    if (!principal) throw new AuthenticationError();
    return principal;
  };

  const dispatch = async (event: APIGatewayProxyEventV2): Promise<Answer> => {
    const state: InFlight = { started: Date.now() };
    inFlight.set(event, state);
    const requestId = event.requestContext.requestId;
    const log = deps.logger.child({ requestId });
    const req = toRequest(event, deps.maxRequestBytes);
    const { route, params } = router.match(req.method, req.path);
    const principal = await authenticate(route, credential(req.headers));
    state.caller = principal;
    if (principal.tenant) await deps.limits?.admitRequest(principal);
    const ctx = { req, params, principal };
    const res = route.idempotent
      ? await deps.idempotency.run(principal.tenant, req, () => route.handle(ctx))
      : await route.handle(ctx);
    log.info("request", {
      method: req.method,
      route: route.path,
      status: res.status,
      tenant: principal.tenant || undefined,
      keyId: principal.keyId || undefined,
      ms: Date.now() - state.started,
    });
    const result = toResult(res, requestId);
    return res.events ? { result, events: reported(res.events, log) } : { result };
  };

  const rejected = (event: APIGatewayProxyEventV2, err: unknown): Answer => {
    const requestId = event.requestContext.requestId;
    const state = inFlight.get(event);
    const apiError = toApiError(err);
    const fields = {
      method: event.requestContext.http.method,
      path: event.rawPath,
      status: apiError.status,
      code: apiError.code,
      // Which key was refused (a 429 names the key that hit its limit).
      tenant: state?.caller?.tenant || undefined,
      keyId: state?.caller?.keyId || undefined,
      ...(state && { ms: Date.now() - state.started }),
    };
    const log = deps.logger.child({ requestId });
    if (apiError.status >= 500) log.error("request failed", { ...fields, err });
    else log.info("request rejected", fields);
    // One mapping per API: OpenAI's envelope, or the shape of the other service whose API the path serves.
    const shape = router.errorShapeFor(event.rawPath);
    const body = shape ? shape.body(apiError) : apiError.toBody();
    return { result: toResult({ status: apiError.status, body, headers: apiError.headers }, requestId) };
  };
  return { dispatch, rejected };
}

// HEAD is GET without the body, decided here once for every route (the router runs GET's handler).
const isHead = (event: APIGatewayProxyEventV2) => event.requestContext.http.method.toUpperCase() === "HEAD";

/**
 * The API Lambda behind the HTTP API, which cannot stream: an SSE body is sent whole, once its last event is
 * written (a streamed image request answers when its job ends).
 */
export function createApiHandler(deps: ApiDeps): FrontDoor<APIGatewayProxyStructuredResultV2> {
  const router = new Router(deps.routes);
  const { dispatch, rejected } = createDispatcher(deps, router);
  const complete = async (
    { result, events }: Answer,
    event: APIGatewayProxyEventV2,
  ): Promise<APIGatewayProxyStructuredResultV2> => {
    if (isHead(event)) return headResult(result);
    if (!events) return withinLambdaLimit(result, event);
    // Behind the HTTP API (which cannot stream) the SSE body goes out whole when the job ends.
    let body = "";
    for await (const chunk of events) body += chunk;
    return withinLambdaLimit({ ...result, body }, event);
  };

  /** Never a truncated body or a bare 502: an answer Lambda could not return becomes an error that says why. */
  const withinLambdaLimit = (
    result: APIGatewayProxyStructuredResultV2,
    event: APIGatewayProxyEventV2,
  ): APIGatewayProxyStructuredResultV2 => {
    const requestId = event.requestContext.requestId;
    const bytes = lambdaOverflow(result);
    if (bytes === undefined) return result;
    const jobId = result.headers?.["x-job-id"];
    const err = new ResponseTooLargeError(
      bytes,
      lambdaResponseLimitBytes,
      typeof jobId === "string" ? jobId : undefined,
    );
    deps.logger.warn("response too large for Lambda", { requestId, bytes, status: result.statusCode });
    // In the error shape of the API the path serves, as every other error.
    const shape = router.errorShapeFor(event.rawPath);
    return toResult(
      { status: err.status, body: shape ? shape.body(err) : err.toBody(), headers: err.headers },
      requestId,
    );
  };
  return {
    answer: async (event) => complete(await dispatch(event), event),
    // An error's answer is small and has no events: HEAD is all that applies to it.
    rejected: (event, err) => {
      const { result } = rejected(event, err);
      return isHead(event) ? headResult(result) : result;
    },
  };
}

/**
 * The API Lambda behind a Function URL with InvokeMode RESPONSE_STREAM: the same answers, an SSE body sent as
 * it is made. Its middy chain runs in middy's streamifyResponse execution mode.
 */
export function createStreamingApiHandler(deps: ApiDeps): FrontDoor<StreamedResult> {
  const { dispatch, rejected } = createDispatcher(deps, new Router(deps.routes));
  return {
    answer: async (event) => streamed(await dispatch(event), event),
    rejected: (event, err) => streamed(rejected(event, err), event),
  };
}

/** An answer as a RESPONSE_STREAM handler returns it: the prelude, then the body as a stream. */
function streamed(answer: Answer, event: APIGatewayProxyEventV2): StreamedResult {
  const { body, isBase64Encoded, statusCode, headers, cookies } = isHead(event)
    ? headResult(answer.result)
    : answer.result;
  const prelude = {
    statusCode: statusCode ?? 200,
    headers: Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k, String(v)])),
    ...(cookies && { cookies }),
  };
  if (answer.events && !isHead(event)) return { ...prelude, body: Readable.from(answer.events) };
  const bytes = Buffer.from(body ?? "", isBase64Encoded ? "base64" : "utf8");
  return { ...prelude, body: Readable.from(bytes.length > 0 ? [bytes] : []) };
}

/** What Lambda invokes in RESPONSE_STREAM mode: the event, the response stream it writes to, the context. */
export type ResponseStreamHandler = (
  event: APIGatewayProxyEventV2,
  responseStream: Writable,
  context: Context,
) => Promise<void>;

/**
 * An SSE body whose producer failed part-way: the client gets OpenAI's `error` event (a 500 that exposes
 * nothing) instead of a stream that simply stops, and the failure is logged.
 */
async function* reported(events: AsyncIterable<string>, log: Logger): AsyncGenerator<string> {
  try {
    yield* events;
  } catch (err) {
    log.error("stream failed", { err });
    yield errorFrame(toApiError(err));
  }
}
