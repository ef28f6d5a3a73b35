import { loadConfig } from "../lib/config.ts";
import { createInboxHandler, withProviderKey } from "../lib/runtime.ts";
import { createTracing } from "../lib/tracing.ts";

const config = await withProviderKey(loadConfig());

/**
 * S3 → SQS → inbox: each image uploaded under inbox/{tenant}/ becomes a variation job. The provider key is read only
 * to know which providers are enabled (jobs are routed by name, as the API does); the worker calls them.
 */
export const handler = createInboxHandler(config, await createTracing(config, "inbox"));
