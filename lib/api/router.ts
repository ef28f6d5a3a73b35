import type { Principal } from "../auth/keys.ts";
import { type ApiError, MethodNotAllowedError, NotFoundError } from "../errors.ts";
import type { ApiRequest, ApiResponse } from "./http.ts";
import type { ResponseSchema, RouteDoc } from "./reference/operation.ts";

/**
 * Another service's API served here (lib/api/dialects): every error under its path prefix, from a bad key to an
 * unknown path, takes that service's documented shape instead of OpenAI's envelope.
 */
export interface ErrorShape {
  prefix: string;
  /** The response component that documents the shape (lib/api/reference/responses.ts). */
  schema: ResponseSchema;
  body(err: ApiError): unknown;
}

export interface RouteContext {
  req: ApiRequest;
  params: Record<string, string>;
  principal: Principal;
}

export interface Route {
  method: "GET" | "POST" | "DELETE";
  /** Path with `{name}` segments. */
  path: string;
  /** Public routes skip authentication. */
  public?: boolean;
  /** POSTs that create work: an Idempotency-Key makes a retry replay the first response (lib/api/idempotency.ts). */
  idempotent?: boolean;
  /** Admin routes take the admin key, and only it; every other route refuses it. */
  admin?: boolean;
  /**
   * The route in the API reference (/openapi.json, /docs), required so no route exists undocumented:
   * - an API operation: `{ operationId, summary, tag, params?, query?, body?, headers?, responses, errors? }`
   *   (lib/api/reference/operation.ts), naming the zod schemas that validate its request;
   * - or, for a route that is not part of the API, `{ excluded: "why" }`: the reference itself
   *   (routes/reference.ts), the playground page `/` and its static assets. Excluded routes are public GETs.
   * test/unit/openapi.test.ts fails for an API route missing from the document, or whose handler reads a body
   * or validates a query its doc does not declare.
   */
  doc: RouteDoc;
  /** Errors in another service's shape, for routes that serve its API; OpenAI's envelope otherwise. */
  errorShape?: ErrorShape;
  handle(ctx: RouteContext): Promise<ApiResponse>;
}

interface Compiled {
  route: Route;
  pattern: RegExp;
  names: string[];
}

export class Router {
  readonly #routes: Compiled[];
  readonly #shapes: ErrorShape[];

  constructor(routes: readonly Route[]) {
    this.#routes = routes.map((route) => {
      const names: string[] = [];
      const source = route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
        names.push(name);
        return "([^/]+)";
      });
      // Paths match exactly: "/v1/jobs/" is not "/v1/jobs", nor a job with an empty id; it is a 404 (unknown_url).
      return { route, pattern: new RegExp(`^${source}$`), names };
    });
    this.#shapes = [...new Set(routes.flatMap((r) => (r.errorShape ? [r.errorShape] : [])))];
  }

  /** The error shape of the API `path` belongs to, matched or not (a 404 under a dialect's prefix is its own). */
  errorShapeFor(path: string): ErrorShape | undefined {
    return this.#shapes.find((s) => path.startsWith(s.prefix));
  }

  /**
   * The route for `method` on `path`. HEAD runs the GET route (the caller drops the body, lib/api/http.ts
   * headResult), so every GET answers HEAD; a 405 lists the methods the path takes, HEAD beside GET.
   */
  match(method: string, path: string): { route: Route; params: Record<string, string> } {
    const wanted = method === "HEAD" ? "GET" : method;
    const allowed: string[] = [];
    for (const c of this.#routes) {
      const m = c.pattern.exec(path);
      if (!m) continue;
      if (c.route.method !== wanted) {
        allowed.push(...(c.route.method === "GET" ? ["GET", "HEAD"] : [c.route.method]));
        continue;
      }
      const params: Record<string, string> = {};
      for (const [i, name] of c.names.entries()) {
        try {
          params[name] = decodeURIComponent(m[i + 1] ?? "");
        } catch {
          throw new NotFoundError(`No route for ${method} ${path}.`, { code: "unknown_url" });
        }
      }
      return { route: c.route, params };
    }
    if (allowed.length > 0) throw new MethodNotAllowedError(method, path, allowed);
    throw new NotFoundError(`No route for ${method} ${path}.`, { code: "unknown_url" });
  }
}
