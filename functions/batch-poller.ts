import { loadConfig } from "../lib/config.ts";
import { createBatchPollerHandler, withProviderKey } from "../lib/runtime.ts";
import { createTracing } from "../lib/tracing.ts";

const config = await withProviderKey(loadConfig(), "batch-poller");

/** EventBridge schedule → one poll of the open OpenAI batches; their ended jobs are settled (docs/batch-lane.md). */
export const handler = createBatchPollerHandler(config, await createTracing(config, "batch-poller"));
