import { readFile } from "node:fs/promises";
import type { Route } from "../router.ts";

// Where the API reference comes from. The generator (zod's JSON Schema conversion, the response schemas, the
// page) is not part of the API bundle: infra/bundling.ts defines IMAGE_JOBS_BUNDLED, the bundle reads the
// reference its build wrote beside it, and the branch that generates it is dropped. Node running the TypeScript
// (sandbox, tests) generates it on the first request instead. Either way it is made once per process.

declare const IMAGE_JOBS_BUNDLED: boolean | undefined;

export interface ApiReference {
  /** The OpenAPI document, serialised. */
  openapi: string;
  /** The /docs page. */
  docs: string;
  /** The page's Content-Security-Policy: its one stylesheet by hash, nothing else. */
  docsCsp: string;
}

/** Written beside the bundle's index.mjs at bundle time (infra/api-reference.ts). */
export const referenceFile = "api-reference.json";

export async function loadApiReference(routes: () => readonly Route[]): Promise<ApiReference> {
  if (typeof IMAGE_JOBS_BUNDLED !== "undefined" && IMAGE_JOBS_BUNDLED) {
    return JSON.parse(await readFile(new URL(`./${referenceFile}`, import.meta.url), "utf8")) as ApiReference;
  }
  // A computed specifier, so bundlers leave the generator out.
  const generator = new URL("./generate.ts", import.meta.url).href;
  const { generateApiReference }: typeof import("./generate.ts") = await import(generator);
  return generateApiReference(routes());
}
