import { defineConfig } from "vitest/config";
import { awsCallLogDir } from "./test/support/aws-calls.ts";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // In a real browser: `npm run test:browser` (vitest.browser.config.ts).
    exclude: ["test/browser/**", "**/node_modules/**"],
    // After the run, test/support/aws-calls.ts checks the AWS calls the functions made against the manifest that
    // test/infra/grants.test.ts proves the stack grants.
    globalSetup: ["test/support/web-build.ts", "test/support/aws-calls.ts"],
    env: { AWS_CALL_LOG_DIR: awsCallLogDir },
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
