import { loadConfig } from "../lib/config.ts";
import { createWebhookHandler } from "../lib/runtime.ts";

/** SQS → webhook deliveries, one attempt per message. Failed records are reported individually. */
export const handler = createWebhookHandler(loadConfig());
