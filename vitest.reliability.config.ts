import { defineConfig } from "vitest/config";

// `npm run test:reliability`: the reliability suites at full size (figures printed), one file at a time so
// the load and crash runs have the machine to themselves. `npm test` runs the same files at reduced size.
export default defineConfig({
  test: {
    include: ["test/reliability/**/*.test.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 120_000,
    env: { RELIABILITY: "full" },
  },
});
