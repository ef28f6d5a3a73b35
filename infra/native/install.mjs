// Installs the native modules the Lambda functions ship (sharp and its libvips) for Lambda's platform,
// linux-arm64 with glibc, into infra/native/node_modules, whatever machine runs it. The functions' bundles keep
// sharp external and the stack copies these modules into each asset that needs them (infra/functions.ts).
// It runs as the project's postinstall, so after `npm ci` a `cdk synth` needs neither the network nor Docker.
// Plain JS: it runs during `npm ci`, on whichever Node npm uses.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = dirname(fileURLToPath(import.meta.url));
const binary = join(dir, "node_modules/@img/sharp-linux-arm64/lib");

// A parent npm run passes its own settings down (local prefix, script policy); this install has its own.
const keep = new Set([
  "npm_config_cache",
  "npm_config_userconfig",
  "npm_config_registry",
  "npm_config_cafile",
  "npm_config_proxy",
  "npm_config_https_proxy",
  "npm_config_noproxy",
  "npm_config_strict_ssl",
  "npm_config_offline",
  "npm_config_prefer_offline",
]);
const env = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) => !k.toLowerCase().startsWith("npm_") || keep.has(k.toLowerCase()),
  ),
);

const result = spawnSync(
  "npm",
  [
    "ci",
    "--prefix",
    dir,
    "--os=linux",
    "--cpu=arm64",
    "--libc=glibc",
    "--omit=dev",
    "--ignore-scripts",
    "--no-audit",
    "--no-fund",
    "--loglevel=error",
  ],
  { cwd: dir, env, stdio: "inherit", shell: process.platform === "win32" },
);

if (result.status !== 0 || !existsSync(binary)) {
  // Warn, never fail the project's install: the sandbox and tests of lib/ do not need these modules.
  // `cdk synth` refuses to run without them and says how to get them.
  console.warn(
    "\nCould not install sharp for linux-arm64 into infra/native (needed only to deploy to AWS).\n" +
      "Run `npm run native` once the npm registry is reachable.\n",
  );
} else {
  console.log("Installed sharp for Lambda (linux-arm64) in infra/native/node_modules.");
}
