import middy from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import type { KeyStore, Principal } from "../auth/keys.ts";
import { AuthenticationError, toApiError } from "../errors.ts";
import type { Logger } from "../logging.ts";
import { toRequest, toResult } from "./http.ts";
import type { Idempotency } from "./idempotency.ts";
import { type Route, Router } from "./router.ts";

export interface ApiDeps {
  keys: KeyStore;
  routes: readonly Route[];
  logger: Logger;
  maxRequestBytes: number;
  /** Applies to routes marked `idempotent`. */
  idempotency: Idempotency;
}

type Handler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

function credential(headers: Record<string, string>): string | undefined {
  const auth = headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m?.[1];
  }
  return headers["x-api-key"]?.trim() || undefined;
}

/** The API Lambda: route, authenticate, run, and map every error to OpenAI's envelope in one place. */
export function createApiHandler(deps: ApiDeps): Handler {
  const router = new Router(deps.routes);

  const dispatch = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const started = Date.now();
    const requestId = event.requestContext.requestId;
    const log = deps.logger.child({ requestId });
    try {
      const req = toRequest(event, deps.maxRequestBytes);
      const { route, params } = router.match(req.method, req.path);
      let principal: Principal = { tenant: "", keyId: "" };
      if (!route.public) {
        const key = credential(req.headers);
        const found = key ? await deps.keys.authenticate(key) : undefined;
        if (!found) throw new AuthenticationError();
        principal = found;
      }
      const ctx = { req, params, principal };
      const res = route.idempotent
        ? await deps.idempotency.run(principal.tenant, req, () => route.handle(ctx))
        : await route.handle(ctx);
      log.info("request", {
        method: req.method,
        route: route.path,
        status: res.status,
        tenant: principal.tenant || undefined,
        ms: Date.now() - started,
      });
      return toResult(res, requestId);
    } catch (err) {
      const apiError = toApiError(err);
      const fields = {
        method: event.requestContext.http.method,
        path: event.rawPath,
        status: apiError.status,
        code: apiError.code,
        ms: Date.now() - started,
      };
      if (apiError.status >= 500) log.error("request failed", { ...fields, err });
      else log.info("request rejected", fields);
      return toResult(
        { status: apiError.status, body: apiError.toBody(), headers: apiError.headers },
        requestId,
      );
    }
  };

  return middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>().handler(dispatch);
}
