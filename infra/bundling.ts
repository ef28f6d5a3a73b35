import { join } from "node:path";
import type { BuildOptions } from "esbuild";

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
