import { request as httpRequest } from "node:http";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JsonSchema, OpenApiDocument } from "../../lib/api/reference/document.ts";
import { type Contract, contractAt } from "../support/contract.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../support/fake-openai.ts";
import { picture } from "../support/images.ts";
import { type SandboxProcess, startSandboxProcess } from "../support/sandbox-process.ts";
import { full, pool, printFigures, seed, sizes } from "./figures.ts";

// Malformed and hostile requests against `npm start` (a real process, its emulators, a fake OpenAI behind it):
// no 5xx, no crash, every error in OpenAI's envelope, every answer as /openapi.json documents it. Requests are
// drawn from a fixed seed (printed), so a failure reproduces with RELIABILITY_SEED=<seed>; the failing request
// is printed too. A second run combines the documented query parameters of every GET route, so that no
// combination of values each valid on its own (an inverted time range) reaches a store that refuses it.

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

interface Outcome {
  request: FuzzRequest;
  status: number;
  text: string;
  problem?: string;
}

let sandbox: SandboxProcess;
let contract: Contract;
let doc: OpenApiDocument;
let fake: FakeOpenAI;
let png: Buffer;
let ownJobId: string;

/** encodeURIComponent throws on lone surrogates; a fuzzer makes those. */
const encode = (s: string) => {
  try {
    return encodeURIComponent(s);
  } catch {
    return "%ED%A0%80";
  }
};

const jobId = () => `job_${"0123456789abcdefghjkmnpqrstv".slice(0, 26)}`;

const routes: { method: string; path: string }[] = [
  { method: "GET", path: "/health" },
  { method: "GET", path: "/v1/models" },
  { method: "POST", path: "/v1/images/generations" },
  { method: "POST", path: "/v1/images/edits" },
  { method: "POST", path: "/v1/images/variations" },
  { method: "POST", path: "/v1/jobs" },
  { method: "GET", path: "/v1/jobs" },
  { method: "GET", path: "/v1/jobs/{id}" },
  { method: "POST", path: "/v1/jobs/{id}/cancel" },
  { method: "GET", path: "/v1/webhooks/secret" },
  { method: "POST", path: "/v1/webhooks/secret/rotate" },
  { method: "POST", path: "/v1/webhooks/endpoints/enable" },
  { method: "POST", path: "/admin/keys" },
  { method: "GET", path: "/admin/keys" },
  { method: "DELETE", path: "/admin/keys/{id}" },
  { method: "GET", path: "/admin/usage" },
];

/** Strings that tend to break parsers: empty, huge, control characters, unicode, injection shapes. */
const nasty = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.constantFrom(
    "",
    " ",
    "\u0000",
    "\uFFFD\uD800",
    "../../etc/passwd",
    "%00",
    "%ZZ",
    `${"$"}{jndi:ldap://x}`,
    "<script>",
    "' OR 1=1 --",
    "NaN",
    "-1",
    "1e309",
    "9007199254740993",
    "auto",
    "1024x1024",
    "99999x99999",
    "0x0",
    "gpt-image-2",
    "dall-e-2",
    "data:image/png;base64,!!!!",
    "data:image/png;base64,iVBORw0KGgo=",
    "http://169.254.169.254/latest/meta-data/",
    "file:///etc/passwd",
    "job_00000000000000000000000000",
  ),
  fc.integer({ min: 1_000, max: 200_000 }).map((n) => "A".repeat(n)),
);

const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  nasty,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(nasty, { maxLength: 4 }),
  fc.dictionary(nasty, nasty, { maxKeys: 3 }),
  fc.constant({ job_id: jobId(), index: 0 }),
  fc.record({ job_id: nasty, index: fc.oneof(fc.integer(), nasty) }),
  fc.record({ image_url: nasty }),
);

const fieldNames = [
  "prompt",
  "model",
  "n",
  "size",
  "quality",
  "output_format",
  "output_compression",
  "background",
  "response_format",
  "moderation",
  "user",
  "image",
  "images",
  "mask",
  "border_percentage",
  "input_fidelity",
  "operation",
  "input",
  "metadata",
  "webhook",
  "deadline",
  "tenant",
  "name",
  "limits",
  "url",
  "events",
];

/** Objects with the service's own field names and wrong or hostile values: past the JSON parser, into the schemas. */
const plausibleObject: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.dictionary(fc.constantFrom(...fieldNames), anyValue, { maxKeys: 6 }),
  fc.record(
    {
      operation: fc.constantFrom("generate", "edit", "variation", "outpaint", "nope"),
      input: fc.oneof(fc.dictionary(fc.constantFrom(...fieldNames), anyValue, { maxKeys: 5 }), anyValue),
      metadata: fc.oneof(fc.dictionary(nasty, nasty, { maxKeys: 20 }), anyValue),
      webhook: fc.oneof(fc.record({ url: nasty, events: fc.array(nasty, { maxLength: 3 }) }), anyValue),
      deadline: fc.oneof(
        fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        nasty,
      ),
    },
    { requiredKeys: ["operation"] },
  ),
  fc.record(
    {
      tenant: nasty,
      name: nasty,
      limits: fc.oneof(
        fc.dictionary(
          fc.constantFrom("requests_per_minute", "concurrent_jobs", "images_per_day", "x"),
          anyValue,
        ),
        anyValue,
      ),
    },
    { requiredKeys: [] },
  ),
);

const jsonBody = fc.oneof(
  plausibleObject.map((o) => JSON.stringify(o)),
  fc.json({ maxDepth: 4 }),
  // Truncated or deeply nested JSON.
  plausibleObject.chain((o) => {
    const text = JSON.stringify(o);
    return fc.nat({ max: Math.max(0, text.length - 1) }).map((n) => text.slice(0, n));
  }),
  fc.integer({ min: 100, max: 5_000 }).map((d) => `${"[".repeat(d)}${"]".repeat(d)}`),
  fc.integer({ min: 100, max: 5_000 }).map((d) => `${'{"a":'.repeat(d)}1${"}".repeat(d)}`),
  nasty,
);

const boundaryText = fc.constantFrom("b0undary", "----x", '"quoted"', "", "a".repeat(71), "x y");

function multipart(
  boundary: string,
  parts: { name: string; filename?: string | undefined; type?: string | undefined; data: Buffer }[],
) {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ""}`;
    const head = `--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ""}\r\n`;
    chunks.push(Buffer.from(head), p.data, Buffer.from("\r\n"));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

const fileData = () =>
  fc.oneof(
    fc.constant(png),
    fc.nat({ max: png.length }).map((n) => png.subarray(0, n)), // truncated PNG
    fc.uint8Array({ maxLength: 2_000 }).map((a) => Buffer.from(a)),
    fc.constant(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="99999" height="99999"/>')),
    fc.constant(Buffer.from("<html><body>not a png</body></html>")),
  );

const multipartBody = () =>
  fc
    .record({
      boundary: fc.constantFrom("b0undary", "----WebKitFormBoundary7MA4YWxkTrZu0gW"),
      parts: fc.array(
        fc.record({
          name: fc.oneof(fc.constantFrom(...fieldNames, "image[]", "images[]"), nasty),
          filename: fc.option(fc.constantFrom("a.png", "a.svg", "../../x", ""), { nil: undefined }),
          type: fc.option(fc.constantFrom("image/png", "image/svg+xml", "text/html", "bogus/type"), {
            nil: undefined,
          }),
          data: fc.oneof(
            fileData(),
            nasty.map((s) => Buffer.from(s)),
          ),
        }),
        { maxLength: 6 },
      ),
      cut: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
      headerBoundary: fc.option(boundaryText, { nil: undefined }),
    })
    .map(({ boundary, parts, cut, headerBoundary }) => {
      const body = multipart(boundary, parts);
      return {
        contentType: `multipart/form-data; boundary=${headerBoundary ?? boundary}`,
        body: cut === undefined ? body : body.subarray(0, Math.floor(body.length * cut)),
      };
    });

const contentTypes = fc.constantFrom(
  "application/json",
  "application/json; charset=utf-16",
  "application/merge-patch+json",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data",
  "multipart/form-data; boundary=",
  "image/png",
  "bogus",
  ";;;",
  "",
);

function fuzzRequests(): fc.Arbitrary<FuzzRequest> {
  const path = (own: string) =>
    fc.oneof(
      { weight: 8, arbitrary: fc.constant(own) },
      { weight: 1, arbitrary: fc.constantFrom(...routes.map((r) => r.path)) },
      { weight: 1, arbitrary: fc.webPath() },
      {
        weight: 1,
        arbitrary: fc.array(nasty, { maxLength: 4 }).map((s) => `/${s.map(encode).join("/")}`),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          "/v1/jobs/../admin/keys",
          "/v1//jobs",
          "/V1/JOBS",
          "/v1/jobs/",
          "/v1/jobs/%2e%2e",
          "/v1/jobs?limit=-1",
          "/v1/jobs?limit=99999&status=bogus&cursor=!!!",
          "/v1/jobs?cursor=eyJ4IjoxfQ",
          "/admin/usage?from=2026-02-30&to=1999-01-01",
          "/admin/usage?tenant=%00",
          "/admin/keys?tenant=",
          `/v1/jobs/${"x".repeat(5_000)}`,
        ),
      },
    );
  const id = fc.oneof(fc.constant(jobId()), fc.constant("key_0123456789abcdef"), nasty.map(encode));
  const auth = fc.constantFrom<"tenant" | "admin" | "none" | "garbage" | "x-api-key" | "huge">(
    "tenant",
    "tenant",
    "tenant",
    "tenant",
    "tenant",
    "tenant",
    "tenant",
    "admin",
    "none",
    "garbage",
    "x-api-key",
    "huge",
  );
  const body = fc.oneof(
    {
      weight: 4,
      arbitrary: jsonBody.map((b) => ({ contentType: "application/json", body: Buffer.from(b) })),
    },
    { weight: 3, arbitrary: multipartBody() },
    {
      weight: 1,
      arbitrary: fc.record({
        contentType: contentTypes,
        body: fc.oneof(
          jsonBody.map((b) => Buffer.from(b)),
          fc.uint8Array({ maxLength: 4_000 }).map((a) => Buffer.from(a)),
        ),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ contentType: "", body: Buffer.alloc(0) }) },
  );
  const extraHeaders = fc.dictionary(
    fc.constantFrom(
      "idempotency-key",
      "prefer",
      "cancel-after",
      "x-forwarded-for",
      "accept",
      "content-encoding",
      "x-request-id",
      "cookie",
    ),
    fc.oneof(
      fc.constantFrom("wait", "wait=5", "wait=999999", "90", "1h30m", "-1", "gzip", "\t", "a=b; c"),
      fc.stringMatching(/^[\x21-\x7e]{0,300}$/),
    ),
    { maxKeys: 3 },
  );
  return fc
    .constantFrom(...routes)
    .chain((route) =>
      fc.record({
        route: fc.constant(route),
        path: path(route.path),
        id,
        methodChoice: fc.oneof(
          { weight: 5, arbitrary: fc.constant(undefined) },
          {
            weight: 1,
            arbitrary: fc.constantFrom(
              "GET",
              "POST",
              "PUT",
              "PATCH",
              "DELETE",
              "OPTIONS",
              "HEAD",
              "PROPFIND",
              "FOO",
            ),
          },
        ),
        auth,
        body,
        extraHeaders,
      }),
    )
    .map(({ route, path, id, methodChoice, auth: who, body: b, extraHeaders: extra }) => {
      const method = methodChoice ?? route.method;
      const rawPath = (path.startsWith("/") ? path : `/${path}`).replace("{id}", id);
      const headers: Record<string, string> = { ...extra };
      if (b.contentType) headers["content-type"] = b.contentType;
      // "tenant" is the key the route wants: the admin key on /admin, a tenant key elsewhere.
      const own = route.path.startsWith("/admin") ? sandbox.adminKey : sandbox.key;
      const key = who === "admin" ? sandbox.adminKey : own;
      if (who === "tenant" || who === "admin") headers.authorization = `Bearer ${key}`;
      if (who === "garbage") headers.authorization = "Basic Zm9vOmJhcg==";
      if (who === "x-api-key") headers["x-api-key"] = `${key}x`;
      if (who === "huge") headers.authorization = `Bearer ${"k".repeat(8_000)}`;
      return {
        method,
        path: rawPath,
        headers,
        body: method === "GET" || method === "HEAD" ? Buffer.alloc(0) : b.body,
      };
    });
}

/**
 * Values a query parameter's documented schema takes: its enum, integers around its bounds, times in the forms
 * its pattern admits (ISO 8601, dates, Unix seconds), strings its pattern matches; now and then anything.
 */
function queryValue(schema: JsonSchema): fc.Arbitrary<string> {
  const valid = (s: JsonSchema): fc.Arbitrary<string> => {
    if (Array.isArray(s.anyOf)) return fc.oneof(...(s.anyOf as JsonSchema[]).map(valid));
    if (Array.isArray(s.enum)) return fc.constantFrom(...s.enum.map(String));
    if (s.type === "integer" || s.type === "number") {
      const min = typeof s.minimum === "number" ? s.minimum : -1_000;
      const max = typeof s.maximum === "number" ? s.maximum : 1_000;
      return fc.integer({ min: min - 1, max: max + 1 }).map(String);
    }
    const pattern = typeof s.pattern === "string" ? new RegExp(s.pattern) : undefined;
    // Times a client would send, each in every form the pattern admits: ISO 8601, a date, Unix seconds.
    const instant = fc.date({
      min: new Date("1969-01-01"),
      max: new Date("2101-01-01"),
      noInvalidDate: true,
    });
    const forms = [
      (d: Date) => d.toISOString(),
      (d: Date) => d.toISOString().slice(0, 10),
      (d: Date) => String(Math.floor(d.getTime() / 1000)),
    ];
    const sample = new Date("2026-01-02T03:04:05.000Z");
    const timeForms = pattern ? forms.filter((f) => pattern.test(f(sample))) : [];
    const matching = pattern ? [fc.stringMatching(pattern)] : [];
    const text = fc.string({
      minLength: typeof s.minLength === "number" ? s.minLength : 0,
      maxLength: Math.min(typeof s.maxLength === "number" ? s.maxLength : 40, 40),
    });
    const options = [...timeForms.map((f) => instant.map(f)), ...matching];
    return options.length > 0 ? fc.oneof(...options) : text;
  };
  // Short: a URL past the header limit is refused (431) before any parameter is read.
  return fc.oneof(
    { weight: 8, arbitrary: valid(schema) },
    { weight: 1, arbitrary: nasty.filter((v) => v.length <= 200) },
  );
}

/** GET requests to every documented GET operation, with a random combination of its query parameters. */
function queryRequests(document: OpenApiDocument): fc.Arbitrary<FuzzRequest> {
  const gets = Object.entries(document.paths).flatMap(([path, item]) =>
    item.get ? [{ path, params: (item.get.parameters ?? []) as JsonSchema[] }] : [],
  );
  const id = fc.oneof(fc.constant(ownJobId), fc.constant(jobId()), nasty.map(encode));
  // Routes with more parameters have more combinations to try.
  const route = fc.oneof(
    ...gets.map((g) => ({ weight: 1 + 2 * g.params.length, arbitrary: fc.constant(g) })),
  );
  return route.chain(({ path, params }) => {
    const query = params.filter((p) => p.in === "query");
    const values = query.map((p) =>
      fc.option(
        queryValue(p.schema as JsonSchema).map((v) => [p.name as string, v] as const),
        // Required parameters are mostly given.
        { freq: p.required ? 10 : 2 },
      ),
    );
    const short = nasty.filter((v) => v.length <= 200);
    // Now and then a parameter the route does not take.
    const extra = fc.oneof(
      { weight: 11, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.tuple(short, short) },
    );
    return fc.tuple(fc.tuple(...values), extra, id).map(([given, unknown, pathId]) => {
      const pairs = [...given, unknown].filter((p): p is readonly [string, string] => p !== null);
      const search = new URLSearchParams(pairs.map(([k, v]): [string, string] => [k, v])).toString();
      const headers = {
        authorization: `Bearer ${path.startsWith("/admin") ? sandbox.adminKey : sandbox.key}`,
      };
      return {
        method: "GET",
        path: `${path.replace(/\{\w+\}/g, pathId)}${search ? `?${search}` : ""}`,
        headers,
        body: Buffer.alloc(0),
      };
    });
  });
}

function send(req: FuzzRequest): Promise<{ status: number; text: string; contentType?: string }> {
  const url = new URL(sandbox.url);
  return new Promise((resolve, reject) => {
    const r = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: req.path,
        headers: { ...req.headers, "content-length": String(req.body.length) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            text: Buffer.concat(chunks).toString("utf8"),
            ...(res.headers["content-type"] !== undefined && { contentType: res.headers["content-type"] }),
          }),
        );
        res.on("error", reject);
      },
    );
    r.on("error", reject);
    r.end(req.body);
  });
}

/** What is wrong with an answer, if anything: a 5xx, an error outside OpenAI's envelope, or one undocumented. */
function problemWith(
  request: FuzzRequest,
  status: number,
  text: string,
  contentType: string | undefined,
): string | undefined {
  if (status >= 500) return `status ${status}`;
  const { method } = request;
  const path = request.path.split("?")[0] as string;
  const undocumented = contract.problem({ method, path, status, contentType, body: text });
  if (undocumented) return `not as documented: ${undocumented.slice(0, 300)}`;
  if (status < 400 || method === "HEAD") return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return "error body is not JSON";
  }
  const error = (body as { error?: Record<string, unknown> }).error;
  const envelope =
    error !== undefined &&
    Object.keys(body as object).length === 1 &&
    typeof error.message === "string" &&
    error.message.length > 0 &&
    typeof error.type === "string" &&
    (error.param === null || typeof error.param === "string") &&
    (error.code === null || typeof error.code === "string") &&
    Object.keys(error).sort().join() === "code,message,param,type";
  return envelope ? undefined : "error body is not OpenAI's envelope";
}

beforeAll(async () => {
  fake = await startFakeOpenAI();
  png = await picture(64, 64, "png");
  sandbox = await startSandboxProcess({
    OPENAI_API_KEY: "sk-fake-provider-key-for-fuzzing",
    OPENAI_BASE_URL: fake.baseURL,
    PLACEHOLDER_FALLBACK: "false",
    LOG_LEVEL: "error",
    WORKER_CONCURRENCY: "2",
  });
  // One real job of the tenant, so job references and ids point at something that exists.
  const res = await fetch(`${sandbox.url}/v1/jobs`, {
    method: "POST",
    headers: { authorization: `Bearer ${sandbox.key}`, "content-type": "application/json" },
    body: JSON.stringify({ operation: "generate", input: { prompt: "seed job", size: "1024x1024" } }),
  });
  ownJobId = ((await res.json()) as { id: string }).id;
  expect(ownJobId).toMatch(/^job_/);
  contract = await contractAt(sandbox.url);
  doc = (await (await fetch(`${sandbox.url}/openapi.json`)).json()) as OpenApiDocument;
});

afterAll(async () => {
  await sandbox?.stop("SIGTERM");
  await fake?.close();
});

/** Sends `requests`, 8 at a time, and reports what went wrong: a failed request is printed to reproduce it. */
async function fuzz(suite: string, requests: FuzzRequest[]) {
  const started = Date.now();
  const outcomes = await pool(requests, 8, async (request): Promise<Outcome> => {
    const { status, text, contentType } = await send(request).catch((err: unknown) => ({
      status: 0,
      text: `transport error: ${String(err)}`,
      contentType: undefined,
    }));
    const problem = status === 0 ? text : problemWith(request, status, text, contentType);
    return { request, status, text, ...(problem && { problem }) };
  });
  const seconds = (Date.now() - started) / 1000;
  const byStatus = new Map<number, number>();
  for (const o of outcomes) byStatus.set(o.status, (byStatus.get(o.status) ?? 0) + 1);
  const failures = outcomes.filter((o) => o.problem);
  // The process is still serving, and never logged an unhandled failure.
  const health = await fetch(`${sandbox.url}/health`);
  const crashed = /Sandbox HTTP failure|Unhandled|uncaught/i.test(sandbox.output());
  printFigures(suite, {
    seed,
    requests: outcomes.length,
    "requests/s": (outcomes.length / seconds).toFixed(0),
    "by status": [...byStatus.entries()]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}:${n}`)
      .join(" "),
    "5xx": outcomes.filter((o) => o.status >= 500).length,
    "not as documented": failures.filter((o) => o.status < 500 && o.status > 0).length,
    "transport errors": outcomes.filter((o) => o.status === 0).length,
    crashes: crashed || health.status !== 200 ? 1 : 0,
  });
  for (const f of failures.slice(0, 5)) {
    process.stdout.write(
      `  FAILED ${f.problem}: ${f.request.method} ${f.request.path.slice(0, 200)} ${JSON.stringify(f.request.headers).slice(0, 300)} body=${JSON.stringify(f.request.body.toString("utf8").slice(0, 300))} → ${f.status} ${f.text.slice(0, 300)}\n`,
    );
  }
  expect(failures.map((f) => `${f.problem}: ${f.request.method} ${f.request.path.slice(0, 120)}`)).toEqual(
    [],
  );
  expect(health.status).toBe(200);
  expect(crashed, sandbox.output().slice(-2_000)).toBe(false);
  return { outcomes, byStatus };
}

describe("fuzz: malformed and hostile requests", () => {
  it(
    `answers ${sizes.fuzzRequests} of them with no 5xx, no crash, every answer as documented`,
    async () => {
      const requests = fc.sample(fuzzRequests(), { seed, numRuns: sizes.fuzzRequests });
      // A share of job references point at the tenant's real job.
      for (const [i, r] of requests.entries()) {
        if (i % 17 === 0) r.path = r.path.replace(jobId(), ownJobId);
      }
      const { outcomes, byStatus } = await fuzz("fuzz", requests);
      // The suite exercised what it meant to: most answers are refusals, some requests succeeded.
      expect([...byStatus.keys()].filter((s) => s >= 400).length).toBeGreaterThanOrEqual(5);
      // …and the tenant's own requests were served (every /v1 route needs its key): a fuzz refused wholesale at
      // the door would prove nothing about the handlers behind it.
      const served = outcomes.filter(
        (o) => o.status >= 200 && o.status < 300 && o.request.path.startsWith("/v1/"),
      );
      expect(served.length).toBeGreaterThan(0);
    },
    full ? 600_000 : 120_000,
  );

  it(
    `combines the query parameters of every GET route, ${sizes.fuzzQueries} times, with no 5xx`,
    async () => {
      const requests = fc.sample(queryRequests(doc), { seed, numRuns: sizes.fuzzQueries });
      const { byStatus } = await fuzz("fuzz: query parameters", requests);
      // Both verdicts were exercised: combinations accepted, and refused.
      expect(byStatus.get(200) ?? 0).toBeGreaterThan(sizes.fuzzQueries / 10);
      expect(byStatus.get(400) ?? 0).toBeGreaterThan(sizes.fuzzQueries / 10);
    },
    full ? 600_000 : 120_000,
  );
});
