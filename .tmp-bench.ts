import OpenAI from "openai";
import { startBenchSandbox, startProvider } from "./bench/harness.ts";
import { epochMs } from "./bench/stats.ts";
const provider = await startProvider();
const sandbox = await startBenchSandbox(provider, { LOG_LEVEL: "warn" });
provider.setLatency(300);
provider.onStreamEvent((r, type, at) => process.stderr.write(`PROVIDER ${type} ${at.toFixed(1)}\n`));
const client = new OpenAI({ apiKey: sandbox.key, baseURL: `${sandbox.url}/v1`, maxRetries: 0 });
for (let i = 0; i < 4; i++) {
  const stream = await client.images.generate({ prompt: `x ${i}`, size: "1024x1024", stream: true, partial_images: 2 });
  for await (const e of stream) process.stderr.write(`CLIENT ${e.type} ${epochMs().toFixed(1)}\n`);
  process.stderr.write("----\n");
}
await sandbox.stop(); await provider.close();
