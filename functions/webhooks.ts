import { loadConfig } from "../lib/config.ts";
import { createWebhookHandler } from "../lib/runtime.ts";
import { createTracing } from "../lib/tracing.ts";

const config = loadConfig();

/** SQS → webhook deliveries, one attempt per message. Failed records are reported individually. */
export const handler = createWebhookHandler(config, await createTracing(config, "webhooks"));
