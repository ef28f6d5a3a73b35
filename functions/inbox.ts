import { loadConfig } from "../lib/config.ts";
import { createInboxHandler } from "../lib/runtime.ts";
import { createTracing } from "../lib/tracing.ts";

const config = loadConfig();

/**
 * S3 → SQS → inbox: each image uploaded under inbox/{tenant}/ becomes a variation job. Jobs are routed by provider
 * name, as the API does (OPENAI_ENABLED, set by the stack, says whether OpenAI is configured); the worker calls them.
 */
export const handler = createInboxHandler(config, await createTracing(config, "inbox"));
