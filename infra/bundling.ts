import { join } from "node:path";
import type { BuildOptions } from "esbuild";
import { referenceFile } from "../lib/api/reference/serve.ts";

// How every function is bundled, in one place: the stack's NodejsFunction bundling, the bundle budget test and
// `npm run bundles` all derive their options from here, so what is measured is what is deployed.

export const projectRoot = new URL("../", import.meta.url).pathname;

/** In the Lambda runtime already (nodejs22.x ships the AWS SDK v3), or shipped beside the bundle (sharp). */
export const externalModules = ["@aws-sdk/*", "sharp"];

/** Native modules, installed for linux-arm64 by infra/native/install.mjs, copied into assets that import them. */
export const nativeModulesDir = join(projectRoot, "infra/native/node_modules");
export const sharpArm64Binary = "@img/sharp-linux-arm64/lib/sharp-linux-arm64-0.35.5.node";

export const bundleTarget = "node22";

/**
 * ESM, so handlers may await at module level (the provider key is read at cold start). Bundled CommonJS
 * dependencies (the X-Ray SDK under Powertools Tracer) call require(), which ESM lacks; the banner provides it.
 */
export const esmRequireBanner =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

/** Prefer packages' ESM builds: they tree-shake; CommonJS builds are included whole. */
export const mainFields = ["module", "main"];

/**
 * Compile-time constants of every bundle. IMAGE_JOBS_BUNDLED drops code only Node running the TypeScript needs,
 * such as the API reference generator (lib/api/reference/serve.ts): the bundle reads what its build wrote.
 */
export const bundleDefines: Record<string, string> = { IMAGE_JOBS_BUNDLED: "true" };

/** The same bundle through esbuild's API (tests, `npm run bundles`); the stack passes these through NodejsFunction. */
export function esbuildOptions(entry: string): BuildOptions {
  return {
    entryPoints: [join(projectRoot, entry)],
    bundle: true,
    platform: "node",
    format: "esm",
    target: bundleTarget,
    minify: true,
    external: externalModules,
    banner: { js: esmRequireBanner },
    define: bundleDefines,
    mainFields,
    outExtension: { ".js": ".mjs" },
    logLevel: "error",
  };
}

/**
 * How a bundle imports sharp, as a POSIX extended regex (the stack's post-bundling step greps with it) that is
 * also a valid JS regex. A bundle that matches needs the native modules beside it.
 */
export const sharpImportPattern = '(from|import\\(|require\\() ?"sharp"';

export const importsSharp = (code: string) => new RegExp(sharpImportPattern).test(code);

/**
 * Bundles that serve the API reference read it from beside them; the stack writes it there after bundling
 * (infra/api-reference.ts). The file's name in a bundle says it needs it.
 */
export const apiReferenceCommand = (outputDir: string) =>
  `if grep -q '${referenceFile}' "${outputDir}/index.mjs"; then "${process.execPath}" --disable-warning=ExperimentalWarning "${join(projectRoot, "infra/api-reference.ts")}" "${outputDir}"; fi`;
