import { defineConfig } from "vitest/config";

// The playground in Chromium, driven by Playwright against a sandbox process (`npm run test:browser`).
export default defineConfig({
  test: {
    include: ["test/browser/**/*.test.ts"],
    globalSetup: ["test/support/web-build.ts"],
    pool: "forks",
    // One browser and one sandbox: files in sequence on the shared machine.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 90_000,
    // Jobs take a moment on a loaded machine; wait for what the page shows, not for a fixed time.
    expect: { poll: { timeout: 20_000, interval: 100 } },
  },
});
