import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateApiReference } from "../lib/api/reference/generate.ts";
import { referenceFile } from "../lib/api/reference/serve.ts";
import type { RouteDeps } from "../lib/api/routes/index.ts";
import { routes } from "../lib/api/routes/index.ts";

// `node infra/api-reference.ts <dir>`: writes the API reference (OpenAPI document, /docs page) into <dir>, beside
// a bundle that serves it. The stack runs it after bundling the API (infra/bundling.ts, apiReferenceCommand), so
// the bundle needs neither the generator nor zod's JSON Schema conversion. Same generator as the sandbox's.

/** The reference of the routes this source tree serves. Handlers are never called: they need no dependencies. */
export function writeApiReference(dir: string): string {
  const file = join(dir, referenceFile);
  writeFileSync(file, JSON.stringify(generateApiReference(routes({} as RouteDeps))));
  return file;
}

if (import.meta.main) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write("usage: node infra/api-reference.ts <output dir>\n");
    process.exit(2);
  }
  writeApiReference(dir);
}
