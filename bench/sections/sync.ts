import OpenAI from "openai";
import { BenchClient, newTag, ProviderLog, tagPrompt } from "../client.ts";
import type { BenchContext } from "../context.ts";
import { providerKey } from "../harness.ts";
import { epochMs, median } from "../stats.ts";

// The sync path side by side: the same `openai` SDK call, b64_json, 1024×1024, against
//   direct   the fake provider itself (the limit: nothing in between),
//   service  this service's POST /v1/images/generations (record, queue, worker, S3, wait, S3 read, answer),
//   portkey  Portkey's open-source gateway proxying to the same fake.
// Calls alternate between the three so drifting machine load falls on all of them alike; each run's ratios are
// taken within that run, and the reported ratio is the median over runs.

export const syncTargets = ["direct", "service", "portkey"] as const;
type Target = (typeof syncTargets)[number];

export async function measureSync(ctx: BenchContext) {
  const { provider, sandbox, portkey } = ctx;
  const clients: Partial<Record<Target, OpenAI>> = {
    direct: new OpenAI({ apiKey: providerKey, baseURL: provider.baseURL, maxRetries: 0 }),
    service: new OpenAI({ apiKey: sandbox.key, baseURL: `${sandbox.url}/v1`, maxRetries: 0 }),
    ...(portkey && {
      portkey: new OpenAI({
        apiKey: providerKey,
        baseURL: `${portkey.url}/v1`,
        maxRetries: 0,
        defaultHeaders: { "x-portkey-provider": "openai", "x-portkey-custom-host": provider.baseURL },
      }),
    }),
  };
  // Service calls are kept (job id, tag, start, end) so their time can be split into phases afterwards.
  let serviceCalls: { jobId: string; tag: string; start: number; end: number }[] = [];
  const call = async (target: Target) => {
    const client = clients[target];
    if (!client) return undefined;
    const tag = newTag();
    const start = epochMs();
    const { data: res, response } = await client.images
      .generate({
        model: "gpt-image-2",
        prompt: tagPrompt(tag),
        size: "1024x1024",
        n: 1,
        response_format: "b64_json",
      })
      .withResponse();
    const end = epochMs();
    if (!res.data?.[0]?.b64_json) throw new Error(`${target} answered without b64_json`);
    if (target === "service")
      serviceCalls.push({ jobId: response.headers.get("x-job-id") ?? "", tag, start, end });
    return end - start;
  };
  const log = new ProviderLog(provider);
  const benchClient = new BenchClient(sandbox);
  /** Where a sync call's time goes: the async phases, then `respond` (finished_at → answer fully received). */
  const syncPhases = async () => {
    const phases: Record<string, number[]> = {};
    for (const c of serviceCalls) {
      const job = await benchClient.get(c.jobId);
      const span = log.span(c.tag);
      const created = Date.parse(job.created_at);
      const started = Date.parse(job.started_at ?? "");
      const finished = Date.parse(job.finished_at ?? "");
      const parts = {
        submit: created - c.start,
        queue: started - created,
        to_provider: span.start - started,
        provider: span.end - span.start,
        store: finished - span.end,
        respond: c.end - finished,
      };
      for (const [k, v] of Object.entries(parts)) phases[k] = [...(phases[k] ?? []), v];
    }
    serviceCalls = [];
    return Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, median(v)]));
  };

  const results: Record<string, unknown> = {};
  for (const latency of [0, 1000]) {
    provider.setLatency(latency);
    const perRun = latency === 0 ? (ctx.quick ? 4 : 10) : ctx.quick ? 1 : 2;
    for (const target of syncTargets) await call(target); // warm connections at this latency
    serviceCalls = [];
    const ratios: { vs_direct: number; vs_portkey: number }[] = [];
    const times: Record<Target, number[]> = { direct: [], service: [], portkey: [] };
    for (let r = 0; r < ctx.repeats; r++) {
      const run: Record<Target, number[]> = { direct: [], service: [], portkey: [] };
      for (let i = 0; i < perRun; i++) {
        for (const target of syncTargets) {
          const ms = await call(target);
          if (ms !== undefined) run[target].push(ms);
        }
      }
      const m = {
        direct: median(run.direct),
        service: median(run.service),
        portkey: run.portkey.length ? median(run.portkey) : Number.NaN,
      };
      for (const target of syncTargets) times[target].push(m[target]);
      ratios.push({ vs_direct: m.service / m.direct, vs_portkey: m.service / m.portkey });
      ctx.log(
        `sync ${latency} ms run ${r + 1}: direct ${m.direct.toFixed(1)}, service ${m.service.toFixed(1)}, portkey ${m.portkey.toFixed(1)} ms`,
      );
    }
    results[`${latency}ms`] = {
      ms: Object.fromEntries(syncTargets.map((t) => [t, median(times[t])])),
      service_phases: await syncPhases(),
      vs_direct: median(ratios.map((r) => r.vs_direct)),
      vs_portkey: median(ratios.map((r) => r.vs_portkey)),
    };
  }
  log.close();
  return results as Record<
    "0ms" | "1000ms",
    {
      ms: Record<Target, number>;
      service_phases: Record<string, number>;
      vs_direct: number;
      vs_portkey: number;
    }
  >;
}
