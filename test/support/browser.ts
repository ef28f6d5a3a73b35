import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";

// Debian's Chromium, driven by playwright-core (no bundled browser download). CI installs it (.ci/run).

export const chromiumPath = "/usr/bin/chromium";

/** Gitignored; CI keeps it as the browser tests' artifacts. */
export const artifactsDir = new URL("../../test-artifacts/browser/", import.meta.url).pathname;

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `Chromium is missing at ${chromiumPath}. Install it: apt-get update && apt-get install -y chromium`,
    );
  }
  await mkdir(artifactsDir, { recursive: true });
  // Playwright gives each launch a fresh profile (user data dir). The flags keep Chromium from calling home:
  // on a closed network those background connections fail and slow it down.
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export async function screenshot(page: Page, name: string, fullPage = true): Promise<string> {
  const path = join(artifactsDir, `${name}.png`);
  await page.screenshot({ path, fullPage });
  return path;
}
