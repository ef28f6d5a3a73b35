import { describe, expect, it } from "vitest";
import { catalog, type ModelSpec } from "../../lib/catalog/catalog.ts";
import type { Job } from "../../lib/jobs/model.ts";
import { runEdits } from "../../lib/jobs/operations/edit.ts";
import { splitCount } from "../../lib/jobs/operations/output.ts";
import type { EditCall } from "../../lib/jobs/ports/provider.ts";
import { ProviderRegistry } from "../../lib/jobs/registry.ts";
import { PlaceholderProvider } from "../../lib/providers/placeholder.ts";
import type { ImageStore } from "../../lib/storage/images.ts";
import { picture } from "../support/images.ts";

// `n` beyond what a model makes per call is split across calls, each with its own seed.

class CountingProvider extends PlaceholderProvider {
  readonly calls: EditCall[] = [];
  override async edit(call: EditCall) {
    this.calls.push(call);
    return super.edit(call);
  }
}

describe("n above a model's per-call limit", () => {
  it("splits n across provider calls of at most the model's limit", () => {
    expect(splitCount(10, 4)).toEqual([4, 4, 2]);
    expect(splitCount(3, 10)).toEqual([3]);
    expect(splitCount(2, 1)).toEqual([1, 1]);
  });

  it("is split across provider calls and the images joined", async () => {
    const placeholder = catalog.find((m) => m.id === "placeholder") as ModelSpec;
    const twoPerCall: ModelSpec = { ...placeholder, id: "two-per-call", maxImagesPerCall: 2 };
    const provider = new CountingProvider();
    const registry = new ProviderRegistry({ providers: [provider], models: [twoPerCall] });
    const image = await picture(32, 32);
    const source = { key: "k", width: 32, height: 32, bytes: 1, sha256: "x" };
    const job: Job = {
      id: "job_split",
      tenant: "t",
      operation: "edit",
      status: "running",
      model: "two-per-call",
      provider: "placeholder",
      input: {
        model: "two-per-call",
        n: 5,
        size: "auto",
        output_format: "png",
        response_format: "url",
        prompt: "p",
        images: [source],
        mask_source: "none",
        save_source_image: false,
        save_source_mask: false,
      },
      created_at: 0,
      updated_at: 0,
      attempts: 1,
    };
    const ctx = {
      registry,
      images: {} as ImageStore,
      signal: new AbortController().signal,
      deadline: Date.now() + 60_000,
    };
    const result = await runEdits(job, { prompt: "p", images: [image], size: undefined }, ctx);
    expect(provider.calls.map((c) => c.n)).toEqual([2, 2, 1]);
    expect(new Set(provider.calls.map((c) => c.seed)).size).toBe(3);
    expect(result.images).toHaveLength(5);
    expect(result.providerCalls).toBe(3);
  });
});
