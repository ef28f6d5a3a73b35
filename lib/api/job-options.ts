import { createHash } from "node:crypto";
import * as z from "zod/mini";
import { InvalidRequestError } from "../errors.ts";
import { type JobStatus, jobIdPattern, jobIdTime, jobStatuses, operations } from "../jobs/model.ts";
import type { ListQuery } from "../jobs/store.ts";
import { inJobRange, jobRange } from "../layout/keys.ts";
import { parseRequest } from "../validation.ts";
import type { ApiRequest } from "./http.ts";

// The lifecycle side of a job request, the same for every operation: deadline, Prefer: wait, and the list query
// with its cursor. The webhook's check is the core's (lib/jobs/webhook.ts): the inbox takes webhooks too.

/** The longest a job may be given to finish. */
const maxDeadlineMs = 7 * 24 * 3600 * 1000;

/** `deadline` (an ISO 8601 time) and `Cancel-After` (a duration: 90, 90s, 5m, 1h30m): the earlier wins. */
export function deadlineOf(req: ApiRequest, deadline: string | undefined, now: number): number | undefined {
  const candidates: number[] = [];
  if (deadline !== undefined) {
    const at = Date.parse(deadline);
    if (at <= now) {
      throw new InvalidRequestError("Invalid 'deadline': it must be in the future.", { param: "deadline" });
    }
    if (at - now > maxDeadlineMs) {
      throw new InvalidRequestError("Invalid 'deadline': it must be within 7 days.", { param: "deadline" });
    }
    candidates.push(at);
  }
  const header = req.headers["cancel-after"];
  if (header !== undefined) {
    const ms = parseDuration(header.trim());
    if (ms === undefined || ms < 1000 || ms > maxDeadlineMs) {
      throw new InvalidRequestError(
        "Invalid 'Cancel-After': give a duration from 1s to 7 days, such as 90, 90s, 5m or 1h30m.",
        { param: "Cancel-After" },
      );
    }
    candidates.push(now + ms);
  }
  return candidates.length > 0 ? Math.min(...candidates) : undefined;
}

function parseDuration(text: string): number | undefined {
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(text);
  if (!m || text === "") return undefined;
  return (Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0)) * 1000;
}

/**
 * `Prefer: wait=N` (RFC 7240; Replicate's form): wait up to N seconds, bounded by `maxMs`. A malformed or
 * absent preference is ignored, as the RFC asks. Returns the wait and the Preference-Applied value.
 */
export function preferredWait(req: ApiRequest, maxMs: number): { ms: number; applied: string } | undefined {
  const prefer = req.headers.prefer;
  if (!prefer) return undefined;
  for (const part of prefer.split(/[,;]/)) {
    const m = /^\s*wait\s*(?:=\s*"?(\d{1,6})"?)?\s*$/i.exec(part);
    if (!m) continue;
    const maxSeconds = Math.floor(maxMs / 1000);
    const seconds = Math.min(m[1] === undefined ? maxSeconds : Number(m[1]), maxSeconds);
    return { ms: seconds * 1000, applied: `wait=${seconds}` };
  }
  return undefined;
}

/** Times in list filters: ISO 8601, or Unix seconds. */
const instant = z.union([z.iso.datetime({ offset: true }), z.string().check(z.regex(/^\d{1,12}$/))]);
const toMs = (v: string) => (/^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v));

export const listRequest = z.strictObject({
  limit: z.optional(z.coerce.number().check(z.int(), z.gte(1), z.lte(100))),
  after: z.optional(z.string().check(z.minLength(1), z.maxLength(512))),
  status: z.optional(z.enum(jobStatuses)),
  operation: z.optional(z.enum(operations)),
  created_after: z.optional(instant),
  created_before: z.optional(instant),
});

const cursorSchema = z.strictObject({
  v: z.literal(1),
  id: z.string().check(z.regex(jobIdPattern)),
  q: z.string(),
});

/**
 * Parses GET /v1/jobs's query into a store query. The cursor is opaque to clients: a position (a job id)
 * bound to the filters it was made for. Keys are always built from the caller's tenant, so a cursor can
 * never reach another tenant's partition.
 */
export function listQuery(tenant: string, query: URLSearchParams): ListQuery & { filters: string } {
  const p = parseRequest(listRequest, Object.fromEntries(query));
  const fromMs = p.created_after === undefined ? undefined : toMs(p.created_after);
  const toMsValue = p.created_before === undefined ? undefined : toMs(p.created_before);
  const range = jobRange(
    fromMs === undefined ? undefined : jobIdTime(fromMs),
    toMsValue === undefined ? undefined : jobIdTime(toMsValue),
  );
  // An inverted range matches nothing, and DynamoDB refuses a BETWEEN whose bounds are inverted.
  if (range.from > range.to) {
    throw new InvalidRequestError(
      `Invalid 'created_after': ${p.created_after} is later than created_before (${p.created_before}).`,
      { param: "created_after" },
    );
  }
  const filters = createHash("sha256")
    .update(JSON.stringify([p.status ?? null, p.operation ?? null, range.from, range.to]))
    .digest("base64url")
    .slice(0, 16);
  let after: string | undefined;
  if (p.after !== undefined) {
    after = decodeCursor(p.after, filters);
    if (!inJobRange(after, range)) throw badCursor();
  }
  return {
    tenant,
    status: p.status as JobStatus | undefined,
    operation: p.operation,
    from: range.from,
    to: range.to,
    limit: p.limit ?? 20,
    after,
    filters,
  };
}

export function encodeCursor(id: string, filters: string): string {
  return Buffer.from(JSON.stringify({ v: 1, id, q: filters })).toString("base64url");
}

function decodeCursor(cursor: string, filters: string): string {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw badCursor();
  }
  const parsed = cursorSchema.safeParse(value);
  if (!parsed.success || parsed.data.q !== filters) throw badCursor();
  return parsed.data.id;
}

const badCursor = () =>
  new InvalidRequestError(
    "Invalid 'after': use the next_cursor of the previous page, with the same filters.",
    { param: "after", code: "invalid_cursor" },
  );
