import type { Route } from "../router.ts";
import { buildOpenApiDocument } from "./document.ts";
import { docsStyleSource, renderDocsPage } from "./page.ts";
import type { ApiReference } from "./serve.ts";

/**
 * The API reference of `routes`: the OpenAPI document, the /docs page and the page's Content-Security-Policy.
 * The one generator: the sandbox and tests call it on the first request; a deployed bundle carries its output,
 * written at bundle time by infra/api-reference.ts.
 */
export function generateApiReference(routes: readonly Route[]): ApiReference {
  const document = buildOpenApiDocument(routes);
  return {
    openapi: JSON.stringify(document),
    docs: renderDocsPage(document),
    docsCsp: `default-src 'none'; style-src ${docsStyleSource}; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  };
}
