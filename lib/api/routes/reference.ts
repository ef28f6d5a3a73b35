import { createHash } from "node:crypto";
import { type ApiReference, loadApiReference } from "../reference/serve.ts";
import type { Route, RouteContext } from "../router.ts";

// The API reference: /openapi.json (OpenAPI 3.1) and /docs (the same, readable). Public, and not operations of
// the API themselves, so excluded from the document they serve. Made on the first request, then kept.

interface Served {
  body: string;
  etag: string;
}

const etagOf = (body: string) => `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;

export function referenceRoutes(all: () => readonly Route[]): Route[] {
  let loading: Promise<{ openapi: Served; docs: Served; csp: string }> | undefined;
  const reference = () => {
    loading ??= loadApiReference(all).then((r: ApiReference) => ({
      openapi: { body: r.openapi, etag: etagOf(r.openapi) },
      docs: { body: r.docs, etag: etagOf(r.docs) },
      csp: r.docsCsp,
    }));
    // A failed load is tried again by the next request, not remembered.
    loading.catch(() => {
      loading = undefined;
    });
    return loading;
  };

  const serve = (ctx: RouteContext, served: Served, headers: Record<string, string>) => {
    const common = {
      etag: served.etag,
      // The reference changes with a deployment only; clients revalidate cheaply with the ETag.
      "cache-control": "public, max-age=300",
      "x-content-type-options": "nosniff",
    };
    if (ctx.req.headers["if-none-match"]?.split(/\s*,\s*/).includes(served.etag)) {
      return { status: 304, headers: common };
    }
    return { status: 200, headers: { ...headers, ...common }, text: served.body };
  };

  return [
    {
      method: "GET",
      path: "/openapi.json",
      public: true,
      doc: { excluded: "The API reference itself." },
      handle: async (ctx) =>
        serve(ctx, (await reference()).openapi, { "content-type": "application/json; charset=utf-8" }),
    },
    {
      method: "GET",
      path: "/docs",
      public: true,
      doc: { excluded: "The API reference itself, as HTML." },
      handle: async (ctx) => {
        const r = await reference();
        return serve(ctx, r.docs, {
          "content-type": "text/html; charset=utf-8",
          "content-security-policy": r.csp,
          "referrer-policy": "no-referrer",
        });
      },
    },
  ];
}
