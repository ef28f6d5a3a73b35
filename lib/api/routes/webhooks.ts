import * as z from "zod/mini";
import { parseRequest } from "../../validation.ts";
import type { WebhookSecret } from "../../webhooks/secrets.ts";
import { jsonBody } from "../http.ts";
import { webhookConfig } from "../job-options.ts";
import type { Route } from "../router.ts";
import type { RouteDeps } from "./deps.ts";

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

function secretResource(s: WebhookSecret) {
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

export const webhookRoutes = (deps: RouteDeps): Route[] => [
  {
    method: "GET",
    path: "/v1/webhooks/secret",
    handle: async (ctx) => ({
      status: 200,
      headers: noStore,
      body: secretResource(await deps.webhookSecrets.get(ctx.principal.tenant)),
    }),
  },
  {
    method: "POST",
    path: "/v1/webhooks/secret/rotate",
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
    handle: async (ctx) => {
      const body = parseRequest(z.strictObject({ url: z.string().check(z.minLength(1)) }), jsonBody(ctx.req));
      const { url } = webhookConfig({ url: body.url }, deps.urlPolicy);
      const wasDisabled = await deps.disabledEndpoints.enable(ctx.principal.tenant, url);
      return {
        status: 200,
        body: { object: "webhook.endpoint", url, enabled: true, was_disabled: wasDisabled },
      };
    },
  },
];
