import * as z from "zod/mini";
import { type KeyInfo, keyIdPattern, keyLimits, tenantPattern } from "../../auth/keys.ts";
import { fromMicroUsd } from "../../catalog/prices.ts";
import { InvalidRequestError, NotFoundError } from "../../errors.ts";
import { parseRequest } from "../../validation.ts";
import { jsonBody } from "../http.ts";
import type { Resource } from "../reference/responses.ts";
import type { Route } from "../router.ts";
import type { RouteDeps } from "./deps.ts";

// The operator's API, in the manner of LiteLLM's master key: issue, list and revoke tenant keys, read usage.
// Only the admin key reaches these routes, and it reaches nothing else.

const tenant = z
  .string()
  .check(z.regex(tenantPattern, "must be 1-64 of a-z, 0-9, '_' and '-', starting with a letter or digit"));

const createKeyRequest = z.strictObject({
  tenant,
  name: z.string().check(z.minLength(1), z.maxLength(128)),
  limits: z.optional(keyLimits),
});

const date = z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date, YYYY-MM-DD"));
const listKeysQuery = z.strictObject({ tenant });
const usageQuery = z.strictObject({ tenant, from: z.optional(date), to: z.optional(date) });

/** The longest range one usage request may cover. */
export const maxUsageDays = 366;
const dayMs = 86_400_000;

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

function keyResource(k: KeyInfo): Resource<"ApiKey"> {
  return {
    object: "api_key",
    id: k.id,
    tenant: k.tenant,
    name: k.name,
    created_at: iso(k.created_at),
    limits: k.limits,
    revoked_at: iso(k.revoked_at),
  };
}

function parseDate(value: string, param: string): number {
  const ms = Date.parse(`${value}T00:00:00Z`);
  // Date.parse rolls 2026-02-30 over to March; a real date prints back as itself.
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value) {
    throw new InvalidRequestError(`Invalid '${param}': '${value}' is not a calendar date.`, { param });
  }
  return ms;
}

export const adminRoutes = (deps: RouteDeps): Route[] => [
  {
    method: "POST",
    path: "/admin/keys",
    admin: true,
    doc: {
      operationId: "createApiKey",
      summary: "Issue a tenant key",
      description: "The response holds the key itself, the only time it is shown: it is stored as a hash.",
      tag: "Admin",
      body: {
        schema: createKeyRequest,
        example: { tenant: "acme", name: "acme production", limits: { requests_per_minute: 600 } },
      },
      responses: { 201: { description: "The key, with its secret.", schema: "CreatedApiKey" } },
    },
    handle: async (ctx) => {
      const body = parseRequest(createKeyRequest, jsonBody(ctx.req));
      const { key, info } = await deps.keys.create(body.tenant, body.name, body.limits ?? {});
      // The only time the secret is shown: it is stored as a hash.
      return { status: 201, body: { ...keyResource(info), key } satisfies Resource<"CreatedApiKey"> };
    },
  },
  {
    method: "GET",
    path: "/admin/keys",
    admin: true,
    doc: {
      operationId: "listApiKeys",
      summary: "List a tenant's keys",
      tag: "Admin",
      query: listKeysQuery,
      responses: {
        200: {
          description: "The tenant's keys, revoked ones too; never their secrets.",
          schema: "ApiKeyList",
        },
      },
    },
    handle: async (ctx) => {
      const query = parseRequest(listKeysQuery, Object.fromEntries(ctx.req.query));
      const keys = await deps.keys.list(query.tenant);
      return {
        status: 200,
        body: { object: "list", data: keys.map(keyResource) } satisfies Resource<"ApiKeyList">,
      };
    },
  },
  {
    method: "DELETE",
    path: "/admin/keys/{id}",
    admin: true,
    doc: {
      operationId: "revokeApiKey",
      summary: "Revoke a key",
      description: "The key stops working at once. Revoking a revoked key returns it unchanged.",
      tag: "Admin",
      params: { id: "The key's id, key_ followed by 16 hex digits (not the secret)." },
      responses: { 200: { description: "The key, revoked.", schema: "ApiKey" } },
    },
    handle: async (ctx) => {
      const id = ctx.params.id ?? "";
      const revoked = keyIdPattern.test(id) ? await deps.keys.revoke(id) : undefined;
      if (!revoked) throw new NotFoundError(`No API key with id '${id}'.`, { param: "id" });
      return { status: 200, body: keyResource(revoked) };
    },
  },
  {
    method: "GET",
    path: "/admin/usage",
    admin: true,
    doc: {
      operationId: "getUsage",
      summary: "A tenant's usage by day",
      description:
        "Jobs, images and tokens per UTC day, operation and model; from defaults to 29 days before to, to to today.",
      tag: "Admin",
      query: usageQuery,
      responses: {
        200: { description: "Rows per day, operation and model, and their total.", schema: "Usage" },
      },
    },
    handle: async (ctx) => {
      const query = parseRequest(usageQuery, Object.fromEntries(ctx.req.query));
      const today = new Date().toISOString().slice(0, 10);
      const to = query.to ?? today;
      const toMs = parseDate(to, "to");
      const from = query.from ?? new Date(toMs - 29 * dayMs).toISOString().slice(0, 10);
      const fromMs = parseDate(from, "from");
      if (fromMs > toMs) {
        throw new InvalidRequestError(`'from' (${from}) is after 'to' (${to}).`, { param: "from" });
      }
      if ((toMs - fromMs) / dayMs + 1 > maxUsageDays) {
        throw new InvalidRequestError(`The range covers more than ${maxUsageDays} days; ask for less.`, {
          param: "from",
        });
      }
      const rows = await deps.usage.report(query.tenant, from, to);
      // Summed in micro-dollars (integers), shown in dollars.
      const total = { jobs: 0, images: 0, cost_micro_usd: 0 };
      const byModel = new Map<string, typeof total>();
      for (const r of rows) {
        const cost = r.cost_micro_usd ?? 0;
        const m = byModel.get(r.model) ?? { jobs: 0, images: 0, cost_micro_usd: 0 };
        for (const sum of [total, m]) {
          sum.jobs += r.jobs;
          sum.images += r.images;
          sum.cost_micro_usd += cost;
        }
        byModel.set(r.model, m);
      }
      const counts = (c: { jobs: number; images: number; cost_micro_usd?: number | undefined }) => ({
        jobs: c.jobs,
        images: c.images,
        cost_usd: fromMicroUsd(c.cost_micro_usd ?? 0),
      });
      return {
        status: 200,
        body: {
          object: "usage",
          tenant: query.tenant,
          from,
          to,
          data: rows.map((r) => ({
            date: r.date,
            operation: r.operation,
            model: r.model,
            ...counts(r),
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
          })),
          by_model: [...byModel].map(([model, sums]) => ({ model, ...counts(sums) })),
          total: counts(total),
        } satisfies Resource<"Usage">,
      };
    },
  },
];
