import middy from "@middy/core";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { loadConfig } from "../lib/config.ts";
import { createWebhookDeliverer } from "../lib/runtime.ts";

const deliverer = createWebhookDeliverer(loadConfig());

/** SQS → webhook deliveries, one attempt per message. Failed records are reported individually. */
export const handler = middy<SQSEvent, SQSBatchResponse>().handler((event) => deliverer.processBatch(event));
