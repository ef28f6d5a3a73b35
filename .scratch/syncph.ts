import { BenchClient, newTag, ProviderLog, tagPrompt } from "../bench/client.ts";
import { startBenchSandbox, startProvider } from "../bench/harness.ts";
import { epochMs, median } from "../bench/stats.ts";
const provider = await startProvider();
const sandbox = await startBenchSandbox(provider);
const client = new BenchClient(sandbox);
const log = new ProviderLog(provider);
try {
  for (const latency of [0, 1000, 0, 1000]) {
    provider.setLatency(latency);
    const ph: Record<string, number[]> = {};
    for (let i = 0; i < 6; i++) {
      const tag = newTag();
      const t0 = epochMs();
      const res = await fetch(`${sandbox.url}/v1/images/generations`, { method: "POST", headers: { authorization: `Bearer ${sandbox.key}`, "content-type": "application/json" }, body: JSON.stringify({ prompt: tagPrompt(tag), size: "1024x1024", response_format: "b64_json" }) });
      const tHeaders = epochMs();
      await res.arrayBuffer();
      const t1 = epochMs();
      const job = await client.get(res.headers.get("x-job-id") ?? "");
      const span = log.span(tag);
      const c = Date.parse(job.created_at), s = Date.parse(job.started_at ?? ""), f = Date.parse(job.finished_at ?? "");
      const add = (k: string, v: number) => (ph[k] ??= []).push(v);
      add("submit", c - t0); add("queue", s - c); add("to_provider", span.start - s); add("provider", span.end - span.start); add("store", f - span.end); add("respond_headers", tHeaders - f); add("body", t1 - tHeaders); add("total", t1 - t0);
    }
    console.log(latency, Object.entries(ph).map(([k, v]) => `${k} ${median(v).toFixed(1)}`).join(", "));
  }
} finally { log.close(); await sandbox.stop(); await provider.close(); }
