import * as z from "zod/mini";
import { checkWebhook } from "../../jobs/webhook.ts";
import { parseRequest } from "../../validation.ts";
import type { WebhookSecret } from "../../webhooks/secrets.ts";
import { jsonBody } from "../http.ts";
import type { Resource } from "../reference/responses.ts";
import type { Route } from "../router.ts";
import type { RouteDeps } from "./deps.ts";

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

function secretResource(s: WebhookSecret): Resource<"WebhookSecret"> {
  return {
    object: "webhook.secret",
    secret: s.secret,
    created_at: iso(s.created_at),
    // While set, deliveries carry a signature with the previous secret as well.
    previous_secret_expires_at: iso(s.previous_expires_at),
  };
}

// A secret must not sit in a cache on the way.
const noStore = { "cache-control": "no-store" };

const enableRequest = z.strictObject({ url: z.string().check(z.minLength(1)) });

export const webhookRoutes = (deps: RouteDeps): Route[] => [
  {
    method: "GET",
    path: "/v1/webhooks/secret",
    doc: {
      operationId: "getWebhookSecret",
      summary: "Get the webhook signing secret",
      description:
        "The tenant's Standard Webhooks secret (made on first use): verify webhook-signature with it. Sent with Cache-Control: no-store.",
      tag: "Webhooks",
      responses: { 200: { description: "The secret.", schema: "WebhookSecret" } },
    },
    handle: async (ctx) => ({
      status: 200,
      headers: noStore,
      body: secretResource(await deps.webhookSecrets.get(ctx.principal.tenant)),
    }),
  },
  {
    method: "POST",
    path: "/v1/webhooks/secret/rotate",
    doc: {
      operationId: "rotateWebhookSecret",
      summary: "Rotate the webhook signing secret",
      description:
        "A new secret; until previous_secret_expires_at, deliveries are signed with both, so receivers can switch without losing events.",
      tag: "Webhooks",
      responses: { 200: { description: "The new secret.", schema: "WebhookSecret" } },
    },
    handle: async (ctx) => ({
      status: 200,
      headers: noStore,
      body: secretResource(await deps.webhookSecrets.rotate(ctx.principal.tenant)),
    }),
  },
  {
    // An endpoint that answered 410 Gone gets no more events until it is enabled again.
    method: "POST",
    path: "/v1/webhooks/endpoints/enable",
    doc: {
      operationId: "enableWebhookEndpoint",
      summary: "Enable a webhook endpoint again",
      description: "An endpoint that answered 410 Gone gets no more events until it is enabled here.",
      tag: "Webhooks",
      body: { schema: enableRequest, example: { url: "https://example.com/hooks/images" } },
      responses: { 200: { description: "The endpoint, enabled.", schema: "WebhookEndpoint" } },
    },
    handle: async (ctx) => {
      const body = parseRequest(enableRequest, jsonBody(ctx.req));
      const { url } = checkWebhook({ url: body.url }, deps.urlPolicy);
      const wasDisabled = await deps.disabledEndpoints.enable(ctx.principal.tenant, url);
      return {
        status: 200,
        body: {
          object: "webhook.endpoint",
          url,
          enabled: true,
          was_disabled: wasDisabled,
        } satisfies Resource<"WebhookEndpoint">,
      };
    },
  },
];
