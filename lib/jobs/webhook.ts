import * as z from "zod/mini";
import { type AddressPolicy, checkUrl, OutboundRequestError } from "../net/outbound.ts";
import { InvalidInput } from "./errors.ts";
import { type JobEventType, jobEventTypes, type WebhookConfig } from "./model.ts";

// A job's webhook as a client asks for it (the jobs API, an inbox upload's metadata), and its check.

export const webhookRequest = z.strictObject({
  url: z.string().check(z.minLength(1), z.maxLength(2048)),
  events: z.optional(z.array(z.enum(jobEventTypes)).check(z.minLength(1), z.maxLength(jobEventTypes.length))),
});

/** Checks the webhook URL now (form, scheme, literal private addresses); delivery checks the address again. */
export function checkWebhook(raw: z.infer<typeof webhookRequest>, policy: AddressPolicy): WebhookConfig {
  let url: URL;
  try {
    url = checkUrl(raw.url, policy);
  } catch (err) {
    if (!(err instanceof OutboundRequestError)) throw err;
    throw new InvalidInput(`Invalid 'webhook.url': it ${err.message}.`, {
      param: "webhook.url",
      cause: err,
    });
  }
  const events: JobEventType[] = raw.events ? [...new Set(raw.events)] : [...jobEventTypes];
  return { url: url.href, events };
}
