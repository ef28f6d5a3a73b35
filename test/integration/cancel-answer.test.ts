import { readFileSync } from "node:fs";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog, type ModelSpec } from "../../lib/catalog/catalog.ts";
import { PlaceholderProvider } from "../../lib/providers/placeholder.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../support/fake-openai.ts";
import { httpClient } from "../support/http.ts";
import { type ServiceStack, startServiceStack } from "../support/service-stack.ts";

// Issue 13, item 12: a cancel took 1.35 s to answer in the sandbox. The cancel itself is one read and one
// conditional write; the answer waited for the event loop, which the placeholder held for hundreds of ms at a
// time while it painted (the sandbox runs the API, the worker and the emulators in one process).

/** CPU time the calling thread has used, in ns (Linux: the first field of its schedstat). */
function threadCpuNs(): number {
  return Number(readFileSync("/proc/thread-self/schedstat", "utf8").split(" ")[0]);
}

/**
 * The most CPU time, in ms, that this thread (the event loop) spent between two turns of a 1 ms timer while `work`
 * ran: how long the work held the event loop. CPU time, not wall time, so a loaded machine does not inflate it.
 */
async function longestHold(work: () => Promise<unknown>): Promise<number> {
  let last = threadCpuNs();
  let longest = 0;
  const timer = setInterval(() => {
    const now = threadCpuNs();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(longest, threadCpuNs() - last) / 1e6;
}

describe.runIf(process.platform === "linux")(
  "the placeholder leaves the process free while it paints",
  () => {
    const provider = new PlaceholderProvider();
    const model = catalog.find((m) => m.id === "gpt-image-2") as ModelSpec;
    const size = { width: 3840, height: 2160 };
    const common = {
      model,
      n: 1,
      size,
      outputFormat: "png" as const,
      seed: "s",
      signal: new AbortController().signal,
    };
    let image: Buffer;
    beforeAll(async () => {
      image = await sharp({ create: { ...size, channels: 4, background: "#3366cc" } })
        .png()
        .toBuffer();
    });

    // Unsliced, an edit or a variation held it for 250–300 ms of CPU at a time at 3840×2160, a cut-out for 60 ms.
    it.each([
      ["an edit", () => provider.edit({ ...common, prompt: "a red kite", images: [image] })],
      ["a variation", () => provider.variation({ ...common, image })],
      ["a background removal", () => provider.removeBackground({ ...common, image })],
    ])("%s of a 3840×2160 image never holds the event loop for 40 ms", async (_, work) => {
      expect(await longestHold(work)).toBeLessThan(40);
    });
  },
);

describe("cancel answers once it is recorded", () => {
  let svc: ServiceStack;
  let fake: FakeOpenAI;
  beforeAll(async () => {
    fake = await startFakeOpenAI({ latencyMs: 5_000 });
    svc = await startServiceStack({
      env: {
        OPENAI_API_KEY: "sk-test-provider-key-000000",
        OPENAI_BASE_URL: fake.baseURL,
        PROVIDER_MAX_RETRIES: "0",
      },
    });
  });
  afterAll(async () => {
    await svc?.close();
    await fake?.close();
  });

  it("without waiting for the running provider call to end", async () => {
    const api = httpClient(svc.url, svc.keys.acme);
    const created = await api.post("/v1/jobs", { operation: "generate", input: { prompt: "an otter" } });
    const until = Date.now() + 10_000;
    while (fake.requests.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    const call = fake.requests[0];
    if (!call) throw new Error("The provider was never called");

    const started = Date.now();
    const canceled = await api.post(`/v1/jobs/${created.body.id}/cancel`);
    const answeredAt = Date.now();
    expect([canceled.status, canceled.body.status]).toEqual([200, "canceled"]);
    expect(answeredAt - started).toBeLessThan(1_000);
    // The provider holds its answer 5 s: the cancel was answered well before the call could have ended.
    expect(call.finishedAt).toBeUndefined();
    expect(answeredAt).toBeLessThan(call.startedAt + 4_000);
  });
});
