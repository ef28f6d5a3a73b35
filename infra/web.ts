import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "./bundling.ts";

// The playground (web/) is a static bundle built with Vite. It is built on demand, only when its sources are
// newer than the last build: by `npm start`, by the tests' global setup and by the CDK stack, so a fresh clone
// needs no manual step. Vite runs only here, at build time; the API serves the built files.

export const webRoot = join(projectRoot, "web");
export const webDist = join(webRoot, "dist");
/** Written last, so a half-written dist/ never counts as built. */
const stamp = join(webDist, ".built");

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "dist" || entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** True when web/dist is missing or older than web/ or this build definition. */
export function webIsStale(): boolean {
  let built: number;
  try {
    built = statSync(stamp).mtimeMs;
  } catch {
    return true;
  }
  const sources = Math.max(newestMtime(webRoot), statSync(new URL(import.meta.url)).mtimeMs);
  return sources > built;
}

/** Builds web/ into web/dist. Builds into a fresh directory and swaps it in, so readers never see half. */
export async function buildWeb(): Promise<{ files: { name: string; bytes: number }[] }> {
  const { build } = await import("vite");
  const temp = join(webRoot, `.build-${process.pid}`);
  rmSync(temp, { recursive: true, force: true });
  await build({
    configFile: false,
    root: webRoot,
    base: "/",
    logLevel: "warn",
    build: {
      outDir: temp,
      emptyOutDir: true,
      target: "es2022",
      // Modern browsers only: no inline polyfill script, which the Content-Security-Policy would refuse.
      modulePreload: { polyfill: false },
      assetsInlineLimit: 0,
      reportCompressedSize: false,
    },
  });
  mkdirSync(temp, { recursive: true });
  writeFileSync(join(temp, ".built"), `${new Date().toISOString()}\n`);
  rmSync(webDist, { recursive: true, force: true });
  renameSync(temp, webDist);
  const files: { name: string; bytes: number }[] = [];
  const walk = (dir: string, prefix: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith(".")) continue;
      if (entry.isDirectory()) walk(join(dir, entry.name), `${prefix}${entry.name}/`);
      else files.push({ name: `${prefix}${entry.name}`, bytes: statSync(join(dir, entry.name)).size });
    }
  };
  walk(webDist, "");
  return { files };
}

/** Builds when stale; returns whether it built. */
export async function ensureWebBuilt(): Promise<boolean> {
  if (!webIsStale()) return false;
  await buildWeb();
  return true;
}
