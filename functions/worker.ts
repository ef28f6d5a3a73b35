import { loadConfig } from "../lib/config.ts";
import { createWorker, withPooledKeys, withProviderKey, withUpstreamKeys } from "../lib/runtime.ts";
import { createTracing } from "../lib/tracing.ts";

const config = await withPooledKeys(
  await withUpstreamKeys(await withProviderKey(loadConfig(), "worker"), "worker"),
  "worker",
);

/** SQS → jobs. Failed records are reported individually (ReportBatchItemFailures); the rest are deleted. */
export const handler = createWorker(config, await createTracing(config, "worker"));
