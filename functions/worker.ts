import { loadConfig } from "../lib/config.ts";
import { createWorker, withProviderKey, withUpstreamKeys } from "../lib/runtime.ts";

/** SQS → jobs. Failed records are reported individually (ReportBatchItemFailures); the rest are deleted. */
export const handler = createWorker(await withUpstreamKeys(await withProviderKey(loadConfig())));
