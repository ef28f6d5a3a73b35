import { join } from "node:path";
import { type BundlingOptions, LogLevel, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import {
  apiReferenceCommand,
  bundleDefines,
  bundleTarget,
  esmRequireBanner,
  externalModules,
  mainFields,
  nativeModulesDir,
  projectRoot,
  sharpImportPattern,
} from "../bundling.ts";
import { type FunctionSpec, playgroundDirName } from "../functions.ts";
import { webDist } from "../web.ts";

/** The bundle as infra/bundling.ts defines it, with what must sit beside it: sharp, the playground, the reference. */
export function functionBundling(spec: FunctionSpec): BundlingOptions {
  return {
    format: OutputFormat.ESM,
    target: bundleTarget,
    minify: true,
    sourceMap: true,
    // Stack traces map back to the TypeScript; the sources themselves need not ship.
    sourcesContent: false,
    externalModules,
    banner: esmRequireBanner,
    define: bundleDefines,
    mainFields,
    forceDockerBundling: false,
    logLevel: LogLevel.ERROR,
    commandHooks: {
      beforeBundling: () => [],
      beforeInstall: () => [],
      // Only bundles that import sharp get its linux-arm64 modules (about 20 MB) beside them.
      afterBundling: (_inputDir: string, outputDir: string) => [
        `if grep -Eq '${sharpImportPattern}' "${outputDir}/index.mjs"; then cp -R "${nativeModulesDir}" "${outputDir}/node_modules"; fi`,
        // The playground's static files, built first if web/ changed (Vite runs here, never in Lambda).
        ...(spec.playground
          ? [
              `"${process.execPath}" --disable-warning=ExperimentalWarning "${join(projectRoot, "infra/build-web.ts")}" --if-stale`,
              `cp -R "${webDist}" "${outputDir}/${playgroundDirName}"`,
              `rm -f "${outputDir}/${playgroundDirName}/.built"`,
            ]
          : []),
        apiReferenceCommand(outputDir),
      ],
    },
  };
}
