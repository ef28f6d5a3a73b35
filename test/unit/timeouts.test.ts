import { describe, expect, it } from "vitest";
import { catalog, type ModelSpec } from "../../lib/catalog/catalog.ts";
import { loadConfig, loadSandboxConfig } from "../../lib/config.ts";
import { jobTimeouts } from "../../lib/providers/timeouts.ts";

// The provider timeout, the worker's timeout and its lease come from the slowest model, as data: a default
// shorter than a live model's slowest call would cut good jobs off (gpt-image-2 took about 235 s, the default was
// 180 s).

const env = {
  JOBS_TABLE: "t",
  IMAGES_BUCKET: "b",
  JOBS_QUEUE_URL: "http://127.0.0.1:1/q",
  WEBHOOKS_QUEUE_URL: "http://127.0.0.1:1/w",
};
const model = (id: string, slowestCallSeconds: number, shutdownOn?: string): ModelSpec => ({
  ...(catalog.find((m) => m.id === "placeholder") as ModelSpec),
  id,
  slowestCallSeconds,
  ...(shutdownOn && { shutdownOn }),
});

describe("job timeouts", () => {
  it("outlast every live catalogued model's slowest call, in the functions and the sandbox by default", () => {
    const slowest = Math.max(...catalog.filter((m) => !m.shutdownOn).map((m) => m.slowestCallSeconds));
    expect(slowest).toBeGreaterThanOrEqual(235);
    const config = loadConfig(env);
    expect(config.PROVIDER_TIMEOUT_MS).toBeGreaterThanOrEqual(slowest * 1000 * 1.2);
    // The worker stores the images after the call, and its lease lasts as long as it may run.
    expect(config.WORKER_TIMEOUT_MS).toBe(config.PROVIDER_TIMEOUT_MS + 60_000);
    expect(loadSandboxConfig({}).WORKER_TIMEOUT_MS).toBe(config.WORKER_TIMEOUT_MS);
  });

  it("are sized by the slowest model that is still live, with headroom, rounded up to 10 s", () => {
    const models = [model("quick", 20), model("slow", 235), model("slower-but-retired", 600, "2026-01-01")];
    expect(jobTimeouts(models, new Date("2026-06-01"))).toEqual({
      slowest: { model: "slow", seconds: 235 },
      providerSeconds: 300,
      workerSeconds: 360,
    });
    expect(jobTimeouts(models, new Date("2025-06-01")).slowest.model).toBe("slower-but-retired");
    expect(jobTimeouts([model("quick", 20)]).providerSeconds).toBe(30);
  });
});
