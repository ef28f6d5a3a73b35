import { loadConfig } from "../lib/config.ts";
import { createWebhookHandler, withCdnKey } from "../lib/runtime.ts";
import { createTracing } from "../lib/tracing.ts";

// Payloads carry image URLs: signed by CloudFront's key when images go through the CDN.
const config = await withCdnKey(loadConfig(), "webhooks");

/** SQS → webhook deliveries, one attempt per message. Failed records are reported individually. */
export const handler = createWebhookHandler(config, await createTracing(config, "webhooks"));
