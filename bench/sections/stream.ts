import OpenAI from "openai";
import { newTag, tagOf, tagPrompt } from "../client.ts";
import type { BenchContext } from "../context.ts";
import { providerKey } from "../harness.ts";
import { epochMs, medianOfRuns, percentile } from "../stats.ts";

// stream: true through the whole service: the openai SDK against the sandbox (which serves the API as the Function
// URL does, streaming), the fake provider streaming 2 partial images of a real-size 1024² PNG over 900 ms. For each
// event, from the moment the provider wrote it to the moment the client's SDK yielded it:
//   first_partial_ms  the first partial image: worker's SDK stream, S3 PUT, DynamoDB append, the API woken, S3 GET,
//                     the SSE frame to the client;
//   final_ms          the completed event: the image stored and the job settled exactly as without streaming, then
//                     relayed the same way.
// Requests run one at a time, so each figure is the service's own path, not queueing behind other work. The same
// call straight to the provider (`direct`) alternates with them: its figures are the floor, what the SDK itself
// takes to receive and parse each event (megabytes of base64 per preview), which the service's path pays twice
// (the worker's SDK, then the client's).

/** Events 300 ms apart: a real model takes seconds; closer events would queue behind each other's megabytes. */
const providerLatencyMs = 900;
const partialImages = 2;

export async function measureStream(ctx: BenchContext) {
  const { provider, sandbox } = ctx;
  const clients = {
    service: new OpenAI({ apiKey: sandbox.key, baseURL: `${sandbox.url}/v1`, maxRetries: 0 }),
    direct: new OpenAI({ apiKey: providerKey, baseURL: provider.baseURL, maxRetries: 0 }),
  };
  // When the provider wrote each event, by the bench tag of the request it answered.
  const written = new Map<string, Map<string, number>>();
  const unsubscribe = provider.onStreamEvent((request, type, at) => {
    const tag = tagOf(request);
    if (!tag) return;
    const events = written.get(tag) ?? new Map<string, number>();
    if (!events.has(type)) events.set(type, at);
    written.set(tag, events);
  });
  const call = async (target: keyof typeof clients) => {
    const tag = newTag();
    const received = new Map<string, number>();
    const stream = await clients[target].images.generate({
      model: "gpt-image-2",
      prompt: tagPrompt(tag),
      size: "1024x1024",
      stream: true,
      partial_images: partialImages,
    });
    for await (const event of stream) if (!received.has(event.type)) received.set(event.type, epochMs());
    const sent = written.get(tag);
    written.delete(tag);
    const gap = (type: string) => {
      const at = received.get(type);
      const from = sent?.get(type);
      if (at === undefined || from === undefined) throw new Error(`no ${type} for ${tag}`);
      return at - from;
    };
    return { first: gap("image_generation.partial_image"), final: gap("image_generation.completed") };
  };
  provider.setLatency(providerLatencyMs);
  try {
    await call("service"); // warm the connections and the code paths
    await call("direct");
    const perRun = { service: ctx.quick ? 5 : 12, direct: ctx.quick ? 3 : 6 };
    type Run = { first_p50: number; first_p99: number; final_p50: number; final_p99: number };
    const runs: Record<keyof typeof clients, Run[]> = { service: [], direct: [] };
    for (let r = 0; r < ctx.repeats; r++) {
      for (const target of ["service", "direct"] as const) {
        const first: number[] = [];
        const final: number[] = [];
        for (let i = 0; i < perRun[target]; i++) {
          const { first: f, final: c } = await call(target);
          first.push(f);
          final.push(c);
        }
        const run = {
          first_p50: percentile(first, 50),
          first_p99: percentile(first, 99),
          final_p50: percentile(final, 50),
          final_p99: percentile(final, 99),
        };
        runs[target].push(run);
        ctx.log(
          `stream ${target} run ${r + 1}: first partial p50 ${run.first_p50.toFixed(1)} / p99 ${run.first_p99.toFixed(1)} ms, completed p50 ${run.final_p50.toFixed(1)} / p99 ${run.final_p99.toFixed(1)} ms`,
        );
      }
    }
    const m = medianOfRuns(runs.service);
    const d = medianOfRuns(runs.direct);
    return {
      first_partial_ms: { p50: m.first_p50, p99: m.first_p99 },
      final_ms: { p50: m.final_p50, p99: m.final_p99 },
      direct: {
        first_partial_ms: { p50: d.first_p50, p99: d.first_p99 },
        final_ms: { p50: d.final_p50, p99: d.final_p99 },
      },
      requests_per_run: perRun.service,
    };
  } finally {
    provider.setLatency(0);
    unsubscribe();
  }
}
