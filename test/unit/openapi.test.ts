import { readFileSync } from "node:fs";
import { S3Client } from "@aws-sdk/client-s3";
import fc from "fast-check";
import type {
  ImageCreateVariationParams,
  ImageEditParamsBase,
  ImageGenerateParamsBase,
  ImagesResponse,
} from "openai/resources/images";
import { describe, expect, it } from "vitest";
import * as z from "zod/mini";
import type { ApiRequest } from "../../lib/api/http.ts";
import { Idempotency } from "../../lib/api/idempotency.ts";
import {
  buildOpenApiDocument,
  type JsonSchema,
  type OpenApiDocument,
} from "../../lib/api/reference/document.ts";
import { isExcluded } from "../../lib/api/reference/operation.ts";
import type { Route } from "../../lib/api/router.ts";
import { type RouteDeps, routes } from "../../lib/api/routes/index.ts";
import { catalog } from "../../lib/catalog/catalog.ts";
import { ApiError, toApiError } from "../../lib/errors.ts";
import { DomainError } from "../../lib/jobs/errors.ts";
import type { Job } from "../../lib/jobs/model.ts";
import { generateRequest } from "../../lib/jobs/operations/generate.ts";
import { operationSpecs } from "../../lib/jobs/operations/index.ts";
import type { ImageProvider } from "../../lib/jobs/ports/provider.ts";
import { ProviderRegistry } from "../../lib/jobs/registry.ts";
import { jobResource } from "../../lib/jobs/view.ts";
import { createLogger } from "../../lib/logging.ts";
import { PlaceholderProvider } from "../../lib/providers/placeholder.ts";
import { ImageStore } from "../../lib/storage/images.ts";
import type { UsageLedger } from "../../lib/usage/ledger.ts";
import { Contract } from "../support/contract.ts";
import { jsonSchemaAccepts } from "../support/json-schema.ts";

// The API reference against the routes the router serves: every API route is in the document with its schemas,
// the document is well-formed OpenAPI 3.1, and its request schemas accept what the validators accept.

/** Dependencies no route may touch while being defined, or before it has read its request. */
class DepsTouched extends Error {}
const untouchable = new Proxy(
  {},
  {
    get(_, prop) {
      if (prop === "then") return undefined;
      // Static options, read when the routes are defined, so the playground's routes are checked too.
      if (prop === "playground") return { dir: "/nonexistent", imageOrigins: [] };
      throw new DepsTouched(String(prop));
    },
  },
) as RouteDeps;

const all = routes(untouchable);
const doc = buildOpenApiDocument(all);
const documented = all.filter((r) => !isExcluded(r.doc));
const operationOf = (r: Route) => doc.paths[r.path]?.[r.method.toLowerCase()];

function resolve(schema: unknown): JsonSchema {
  const ref = (schema as JsonSchema).$ref;
  if (typeof ref !== "string") return schema as JsonSchema;
  return resolve(
    ref
      .slice(2)
      .split("/")
      .reduce<unknown>((at, p) => (at as JsonSchema)[p], doc),
  );
}

function requestSchema(path: string, type = "application/json"): JsonSchema {
  const op = doc.paths[path]?.post as JsonSchema;
  const content = (op.requestBody as { content: Record<string, { schema: JsonSchema }> }).content;
  return resolve(content[type]?.schema);
}

/** What the document says is wrong about its coverage of `list`; empty when every API route is in it. */
function coverageProblems(list: readonly Route[], document: OpenApiDocument): string[] {
  const problems: string[] = [];
  for (const route of list) {
    const op = document.paths[route.path]?.[route.method.toLowerCase()];
    const name = `${route.method} ${route.path}`;
    if (isExcluded(route.doc)) {
      if (op) problems.push(`${name} is excluded but documented`);
      continue;
    }
    if (!op) {
      problems.push(`${name} is missing`);
      continue;
    }
    const content = (op.requestBody as { content?: Record<string, { schema?: unknown }> } | undefined)
      ?.content;
    if (route.doc.body && !content?.["application/json"]?.schema)
      problems.push(`${name} has no request schema`);
    const success = Object.entries(op.responses).filter(([s, r]) => /^2\d\d$/.test(s) && r.content);
    if (success.length === 0) problems.push(`${name} has no success response schema`);
    if (!op.responses.default) problems.push(`${name} has no error response`);
  }
  return problems;
}

/** Runs a route's handler on a probe request, with dependencies that throw when touched. */
async function probe(route: Route, req: Partial<ApiRequest>): Promise<string> {
  const params = Object.fromEntries([...route.path.matchAll(/\{(\w+)\}/g)].map((m) => [m[1] as string, "x"]));
  const request: ApiRequest = {
    method: route.method,
    path: route.path,
    query: new URLSearchParams(),
    headers: {},
    body: Buffer.alloc(0),
    requestId: "probe",
    ...req,
  };
  try {
    await route.handle({ req: request, params, principal: { tenant: "t", keyId: "k", limits: {} } });
    return "answered";
  } catch (err) {
    if (err instanceof DepsTouched) return "touched dependencies";
    if (err instanceof ApiError || err instanceof DomainError) {
      const answer = toApiError(err);
      return `${answer.status} ${answer.message}`;
    }
    throw err;
  }
}

describe("the OpenAPI document", () => {
  it("has every API route, with its schemas, and none of the excluded ones", () => {
    expect(coverageProblems(all, doc)).toEqual([]);
    const operations = Object.values(doc.paths).flatMap((item) => Object.keys(item));
    expect(operations).toHaveLength(documented.length);
    // Routes that are not API (the reference itself; the playground's page and assets) are excluded explicitly,
    // with a reason, and serve anyone: no key is needed to read them.
    const excluded = all.filter((r) => isExcluded(r.doc));
    expect(excluded.map((r) => r.path)).toEqual(expect.arrayContaining(["/openapi.json", "/docs"]));
    for (const r of excluded) expect([r.path, r.method, r.public]).toEqual([r.path, "GET", true]);
  });

  it("fails the coverage check for a route it does not have", () => {
    const { "/v1/jobs/{id}": _, ...paths } = doc.paths;
    expect(coverageProblems(all, { ...doc, paths })).toEqual(["GET /v1/jobs/{id} is missing"]);
    const noBody = structuredClone(doc);
    delete (noBody.paths["/v1/images/generations"]?.post ?? ({} as JsonSchema)).requestBody;
    expect(coverageProblems(all, noBody)).toEqual(["POST /v1/images/generations has no request schema"]);
  });

  it("declares a body exactly where the handler reads one, and a query where it validates one", async () => {
    for (const route of documented) {
      if (isExcluded(route.doc)) continue;
      const name = `${route.method} ${route.path}`;
      const plain = await probe(route, { headers: { "content-type": "text/plain" }, body: Buffer.from("x") });
      expect([name, plain.startsWith("415 ")]).toEqual([name, route.doc.body !== undefined]);
      // A query is validated (400) before anything else; bodies come first where there are both (none yet).
      if (route.doc.body) continue;
      const query = await probe(route, { query: new URLSearchParams({ probe_unknown: "1" }) });
      expect([name, query.startsWith("400 ")]).toEqual([name, route.doc.query !== undefined]);
    }
  });

  it("is well-formed OpenAPI 3.1: refs resolve, operationIds are unique, tags and schemes exist", () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info).toMatchObject({ title: "image-jobs", version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    const refs: string[] = [];
    const walk = (node: unknown) => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === "object") {
        for (const [k, v] of Object.entries(node)) {
          if (k === "$ref" && typeof v === "string") refs.push(v);
          else walk(v);
        }
      }
    };
    walk(doc);
    expect(refs.length).toBeGreaterThan(50);
    for (const ref of new Set(refs)) {
      expect(ref).toMatch(/^#\/components\/(schemas|responses)\/\w+$/);
      expect([ref, resolve({ $ref: ref })]).toEqual([ref, expect.any(Object)]);
    }
    const ops = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, op]) => ({ path, method, op })),
    );
    const ids = ops.map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    const tags = new Set((doc.tags as { name: string }[]).map((t) => t.name));
    const schemes = Object.keys((doc.components.securitySchemes ?? {}) as object);
    for (const { path, method, op } of ops) {
      expect(["get", "post", "delete"]).toContain(method);
      expect(op.tags.every((t) => tags.has(t))).toBe(true);
      for (const requirement of (op.security ?? doc.security) as Record<string, unknown>[]) {
        for (const scheme of Object.keys(requirement)) expect(schemes).toContain(scheme);
      }
      const inPath = ((op.parameters ?? []) as JsonSchema[])
        .filter((p) => p.in === "path")
        .map((p) => p.name);
      expect(inPath).toEqual([...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]));
    }
  });

  it("says how each route authenticates: tenant keys, the admin key, or none", () => {
    expect(doc.paths["/health"]?.get?.security).toEqual([]);
    expect(doc.paths["/admin/keys"]?.post?.security).toEqual([{ adminKey: [] }]);
    expect(doc.paths["/v1/images/generations"]?.post?.security).toBeUndefined();
    expect(doc.security).toEqual([{ bearerAuth: [] }, { apiKeyHeader: [] }]);
    expect(doc.components.securitySchemes).toMatchObject({
      bearerAuth: { type: "http", scheme: "bearer" },
      apiKeyHeader: { type: "apiKey", in: "header", name: "X-API-Key" },
    });
  });

  it("lists the headers a route honours, and every error in OpenAI's envelope, or its own API's shape", () => {
    const names = (path: string, method: string) =>
      ((doc.paths[path]?.[method]?.parameters ?? []) as JsonSchema[])
        .filter((p) => p.in === "header")
        .map((p) => p.name);
    expect(names("/v1/jobs", "post")).toEqual(["Prefer", "Cancel-After", "Idempotency-Key"]);
    expect(names("/v1/images/generations", "post")).toEqual(["Idempotency-Key"]);
    expect(names("/v1/images/edits", "post")).toEqual([]);
    const errorSchema = { $ref: "#/components/schemas/Error" };
    // Other services' APIs (lib/api/dialects) answer errors in their own documented shape, under their own tag.
    const dialects: Record<string, string> = {
      Backendless: "BackendlessError",
      VisionStudio: "VisionStudioError",
      AIGNEHub: "AigneError",
    };
    for (const [, item] of Object.entries(doc.paths)) {
      for (const op of Object.values(item)) {
        const own = dialects[op.tags[0] ?? ""];
        const expected = own ? { $ref: `#/components/schemas/${own}` } : errorSchema;
        for (const [status, res] of Object.entries(op.responses)) {
          if (status === "default" && !own) expect(res).toEqual({ $ref: "#/components/responses/Error" });
          else if (Number(status) >= 400 || status === "default") {
            expect([
              op.operationId,
              (res.content as Record<string, JsonSchema>)["application/json"]?.schema,
            ]).toEqual([op.operationId, expected]);
          }
        }
      }
    }
    const tagged = (tag: string) =>
      Object.entries(doc.paths).flatMap(([path, item]) =>
        Object.values(item)
          .filter((op) => op.tags[0] === tag)
          .map(() => path),
      );
    expect(tagged("Backendless")).toEqual([
      "/api/services/OpenAIImageService/createImage",
      "/api/services/OpenAIImageService/createImageEdit",
      "/api/services/OpenAIImageService/createImageVariation",
    ]);
    expect(tagged("VisionStudio")).toEqual([
      "/api/v1/openai/image/generation/generate-image",
      "/api/v1/openai/image/editing/edit-image",
      "/api/v1/openai/image/editing/inpaint",
    ]);
    expect(tagged("AIGNEHub")).toEqual(["/api/images/generations"]);
    expect(resolve(errorSchema)).toMatchObject({
      required: ["error"],
      properties: { error: { required: ["message", "type", "param", "code"] } },
    });
  });

  it("documents multipart uploads for edits and variations as files", () => {
    for (const path of ["/v1/images/edits", "/v1/images/variations"]) {
      const form = requestSchema(path, "multipart/form-data");
      const forms = (form.anyOf as JsonSchema[] | undefined) ?? [form];
      for (const f of forms) {
        const image = (f.properties as Record<string, JsonSchema>).image as JsonSchema;
        expect(image.anyOf).toContainEqual(expect.objectContaining({ type: "string", format: "binary" }));
      }
    }
    for (const form of requestSchema("/v1/images/edits", "multipart/form-data").anyOf as JsonSchema[]) {
      expect((form.properties as Record<string, JsonSchema>).mask).toMatchObject({
        type: "string",
        format: "binary",
      });
    }
  });
});

describe("response schemas in the document", () => {
  const contract = new Contract(doc);
  const principal = { tenant: "t", keyId: "k", limits: {} };
  const request = (query: Record<string, string> = {}): ApiRequest => ({
    method: "GET",
    path: "/",
    query: new URLSearchParams(query),
    headers: {},
    body: Buffer.alloc(0),
    requestId: "r",
  });
  const handlerOf = (method: string, path: string, deps: Partial<RouteDeps>) => {
    const route = routes(deps as RouteDeps).find((r) => r.method === method && r.path === path);
    if (!route) throw new Error(`${method} ${path} is not a route`);
    return (req: ApiRequest, params: Record<string, string> = {}) => route.handle({ req, params, principal });
  };
  const asSent = (body: unknown) => JSON.parse(JSON.stringify(body));

  it("documents every field a job can carry, and allows no other", async () => {
    const images = new ImageStore(
      new S3Client({ region: "us-east-1", credentials: { accessKeyId: "a", secretAccessKey: "b" } }),
      "bucket",
      3600,
    );
    const image = { key: "in.png", width: 64, height: 48, bytes: 100, sha256: "ab" };
    const job = {
      id: "job_01m80rpwb6zsjbtkp1re3779n2",
      tenant: "t",
      status: "succeeded",
      operation: "edit",
      model: "gpt-image-2",
      provider: "openai",
      notice: "a notice",
      input: {
        model: "gpt-image-2",
        n: 1,
        size: "1024x1024",
        quality: "low",
        output_format: "png",
        output_compression: 90,
        background: "opaque",
        user: "u",
        response_format: "url",
        prompt: "p",
        input_fidelity: "high",
        images: [{ ...image, from_job: { job_id: "job_01m80rpwb6zsjbtkp1re3779n3", index: 0 } }],
        mask: image,
        mask_source: "mask",
        save_source_image: true,
        save_source_mask: true,
      },
      metadata: { k: "v" },
      deadline: 1_800_000_000_000,
      webhook: { url: "https://example.com/h", events: ["job.succeeded"] },
      webhook_events: {
        succeeded: {
          id: "msg_1",
          type: "job.succeeded",
          created_at: 1,
          status: "failed",
          attempt_count: 2,
          attempts: [
            { at: 2, status: 500, latency_ms: 3 },
            { at: 4, latency_ms: 5, error: "timeout" },
          ],
          reason: "retries_exhausted",
        },
      },
      created_at: 1,
      updated_at: 2,
      started_at: 3,
      finished_at: 4,
      attempts: 2,
      output: {
        images: [
          {
            index: 0,
            key: "out.png",
            width: 1024,
            height: 1024,
            format: "png",
            bytes: 10,
            sha256: "cd",
            revised_prompt: "p2",
            provider: "bedrock",
            model: "stability.stable-image-inpaint-v1:0",
          },
        ],
        sources: [{ role: "mask", index: 0, key: "mask.png", width: 64, height: 48, bytes: 9, sha256: "ef" }],
        method: "edit",
      },
      error: { type: "t", code: "c", message: "m" },
      usage: {
        images: 1,
        provider_calls: 2,
        provider_ms: 3,
        input_tokens: 4,
        output_tokens: 5,
        total_tokens: 9,
      },
      cost_usd: 0.04,
      fallbacks: [{ model: "gpt-image-2", provider: "openai", failure: "unavailable", message: "down" }],
    } satisfies Job;
    const resource = asSent(await jobResource(job, images));
    expect(contract.componentProblem("Job", resource)).toBeUndefined();
    // Every optional field was there to be checked.
    expect(resource).toMatchObject({ notice: "a notice", cost_usd: 0.04, fallbacks: [expect.any(Object)] });
    expect(resource.output.images[0]).toMatchObject({ provider: "bedrock", revised_prompt: "p2" });
    expect(resource.output.sources).toHaveLength(1);
    expect(contract.componentProblem("Job", { ...resource, internal: 1 })).toMatch(/additional properties/);
    const queued = asSent(
      await jobResource(
        {
          ...job,
          status: "queued",
          output: undefined,
          error: undefined,
          usage: undefined,
          cost_usd: undefined,
          fallbacks: undefined,
          webhook: undefined,
          webhook_events: undefined,
          notice: undefined,
        },
        images,
      ),
    );
    expect(contract.componentProblem("Job", queued)).toBeUndefined();
  });

  it("documents every model of the catalog, with its price and size rule, as list and retrieve show it", async () => {
    const provider = (name: string): ImageProvider => ({
      name,
      generate: async () => ({ images: [] }),
      edit: async () => ({ images: [] }),
    });
    const registry = new ProviderRegistry({
      providers: [provider("openai"), provider("bedrock")],
      standIn: new PlaceholderProvider(),
      // Before the first shutdown, so retiring models show shutdown_on.
      now: () => new Date("2026-01-01T00:00:00Z"),
    });
    const list = asSent((await handlerOf("GET", "/v1/models", { registry })(request())).body);
    expect(contract.componentProblem("ModelList", list)).toBeUndefined();
    expect(list.data.map((m: { id: string }) => m.id)).toEqual(catalog.map((m) => m.id));
    expect(new Set(list.data.map((m: { sizes: { kind: string } }) => m.sizes.kind))).toEqual(
      new Set(["list", "range", "aspect"]),
    );
    expect(list.data.every((m: { pricing?: unknown }) => m.pricing !== undefined)).toBe(true);
    const retrieve = handlerOf("GET", "/v1/models/{model}", { registry });
    for (const model of list.data) {
      const one = asSent((await retrieve(request(), { model: model.id })).body);
      expect(contract.componentProblem("Model", one)).toBeUndefined();
      expect(one).toEqual(model);
    }
  });

  it("documents the usage report: rows, totals by model and in all, with costs", async () => {
    const usage = {
      report: async () => [
        { date: "2026-01-01", operation: "generate", model: "m", jobs: 2, images: 3, cost_micro_usd: 40_000 },
        {
          date: "2026-01-02",
          operation: "edit",
          model: "m",
          jobs: 1,
          images: 1,
          input_tokens: 5,
          output_tokens: 6,
        },
      ],
    } as unknown as UsageLedger;
    const res = asSent(
      (
        await handlerOf("GET", "/admin/usage", { usage })(
          request({ tenant: "t", from: "2026-01-01", to: "2026-01-02" }),
        )
      ).body,
    );
    expect(contract.componentProblem("Usage", res)).toBeUndefined();
    expect(res.by_model).toEqual([{ model: "m", jobs: 3, images: 4, cost_usd: 0.04 }]);
    expect(res.total).toEqual({ jobs: 3, images: 4, cost_usd: 0.04 });
  });

  it("gives path parameters no empty value: an empty segment is no route", () => {
    const params = Object.values(doc.paths).flatMap((item) =>
      Object.values(item).flatMap((op) =>
        ((op.parameters ?? []) as JsonSchema[]).filter((p) => p.in === "path"),
      ),
    );
    expect(params.length).toBeGreaterThanOrEqual(4);
    for (const p of params) expect([p.name, p.schema]).toEqual([p.name, { type: "string", minLength: 1 }]);
  });

  it("documents the Idempotency-Key header as the server checks it", async () => {
    const header = ((doc.paths["/v1/jobs"]?.post?.parameters ?? []) as JsonSchema[]).find(
      (p) => p.name === "Idempotency-Key",
    )?.schema as JsonSchema;
    /** Thrown by the table when the key got past the header check. */
    class Accepted extends Error {}
    const db = { send: async () => Promise.reject(new Accepted()) };
    const idempotency = new Idempotency(
      { db, s3: db } as never,
      { table: "t", bucket: "b" },
      createLogger({ level: "silent", format: "json", service: "test" }),
    );
    const serverAccepts = (key: string) =>
      idempotency
        .run("t", { ...request(), headers: { "idempotency-key": key } }, async () => ({ status: 200 }))
        .then(
          () => true,
          (err: unknown) => err instanceof Accepted,
        );
    const keys = ["", "a", "x".repeat(255), "x".repeat(256), "a b", "tab\tkey", "é", "~!{}", "550e8400-e29b"];
    const verdicts = await Promise.all(
      keys.map(async (k) => [k, await serverAccepts(k), jsonSchemaAccepts(header, k)]),
    );
    for (const [key, server, documented] of verdicts) expect([key, documented]).toEqual([key, server]);
    expect(verdicts.filter(([, server]) => server)).toHaveLength(4);
  });
});

describe("request schemas in the document", () => {
  const generations = requestSchema("/v1/images/generations");
  const accepts = (schema: JsonSchema, body: unknown) => jsonSchemaAccepts(schema, body, doc);

  it.each([
    [{ prompt: "a lighthouse" }, true],
    [{ prompt: "x", n: 2, size: "1024x1024", quality: "high", response_format: "b64_json" }, true],
    [{ prompt: "x", output_format: "webp", output_compression: 80, background: "transparent" }, true],
    [{ prompt: "x", stream: false, style: "vivid", moderation: "low", aspect_ratio: "16:9" }, true],
    [{}, false],
    [{ prompt: "" }, false],
    [{ prompt: "x", n: 0 }, false],
    [{ prompt: "x", n: 1.5 }, false],
    [{ prompt: "x", quality: "ultra" }, false],
    [{ prompt: "x", stream: true, partial_images: 2 }, true],
    [{ prompt: "x", partial_images: 0 }, true],
    [{ prompt: "x", stream: true, partial_images: 4 }, false],
    [{ prompt: "x", stream: "yes" }, false],
  ])("POST /v1/images/generations %j: document and validator agree (%s)", (body, valid) => {
    expect(generateRequest.safeParse(body).success).toBe(valid);
    expect(accepts(generations, body)).toBe(valid);
  });

  it("accepts exactly what the validator accepts, for generated bodies", () => {
    const properties = generations.properties as Record<string, JsonSchema>;
    const anything = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.integer({ min: -2, max: 120 }),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.string(), { maxLength: 2 }),
    );
    // Mostly values the field takes (by its enum or bounds), sometimes one just outside them, or anything.
    const n = (p: JsonSchema, key: string, fallback: number) =>
      typeof p[key] === "number" ? (p[key] as number) : fallback;
    const valid = (p: JsonSchema): fc.Arbitrary<unknown> => {
      if (Array.isArray(p.enum)) return fc.constantFrom(...p.enum);
      if ("const" in p) return fc.constant(p.const);
      if (p.type === "boolean") return fc.boolean();
      if (p.type === "integer") return fc.integer({ min: n(p, "minimum", -5), max: n(p, "maximum", 100) });
      if (p.type === "string" && typeof p.pattern === "string")
        return fc.stringMatching(new RegExp(p.pattern));
      if (p.type === "string") {
        return fc.string({ minLength: n(p, "minLength", 0), maxLength: Math.min(n(p, "maxLength", 30), 40) });
      }
      return anything;
    };
    const outside = (p: JsonSchema): fc.Arbitrary<unknown> => {
      if (Array.isArray(p.enum)) return fc.constant("other");
      if ("const" in p) return fc.constant(!p.const);
      if (p.type === "integer")
        return fc.constantFrom(n(p, "minimum", -5) - 1, n(p, "maximum", 100) + 1, 1.5);
      if (p.type === "string") return fc.constantFrom("", "x".repeat(n(p, "maxLength", 30) + 1));
      return anything;
    };
    // Optional fields take null as "not given" (anyOf [T, null]): the values of T, and sometimes null.
    const nonNull = (p: JsonSchema) =>
      ((p.anyOf as JsonSchema[] | undefined)?.find((x) => x.type !== "null") ?? p) as JsonSchema;
    const fields = fc.record(
      Object.fromEntries(
        Object.entries(properties).map(([k, p]) => [
          k,
          fc.oneof(
            { weight: 30, arbitrary: valid(nonNull(p)) },
            { weight: 1, arbitrary: outside(nonNull(p)) },
            { weight: 1, arbitrary: anything },
          ),
        ]),
      ),
      { requiredKeys: [] },
    );
    const body = fc
      .tuple(fields, fc.option(anything, { freq: 8 }))
      .map(([b, extra]) => (extra === null ? b : { ...b, extra }));
    let accepted = 0;
    fc.assert(
      fc.property(body, (b) => {
        const ok = generateRequest.safeParse(b).success;
        if (ok) accepted++;
        expect(accepts(generations, b)).toBe(ok);
      }),
      { numRuns: 500 },
    );
    // Both verdicts were exercised.
    expect(accepted).toBeGreaterThan(15);
    expect(accepted).toBeLessThan(485);
  });

  it("describes POST /v1/jobs by operation: the job fields, then that operation's request as input", () => {
    const jobs = requestSchema("/v1/jobs");
    const zodAccepts = (body: { operation?: string; input?: unknown }) =>
      body.operation !== undefined &&
      body.operation in operationSpecs &&
      operationSpecs[body.operation as keyof typeof operationSpecs].request.safeParse(body.input).success &&
      z.object({ operation: z.string(), input: z.unknown() }).safeParse(body).success;
    const samples = [
      { operation: "generate", input: { prompt: "x" } },
      {
        operation: "generate",
        input: { prompt: "x" },
        metadata: { a: "b" },
        deadline: "2030-01-01T00:00:00Z",
      },
      { operation: "generate", input: {} },
      { operation: "edit", input: { prompt: "x", image: "https://example.com/a.png" } },
      { operation: "outpaint", input: { image: "https://example.com/a.png", border_percentage: 0.2 } },
      { operation: "outpaint", input: { image: "https://example.com/a.png" } },
      { operation: "variation", input: { image: "https://example.com/a.png", n: 2 } },
      { operation: "variation", input: { image: "https://example.com/a.png", prompt: "x" } },
      { operation: "upscale", input: {} },
    ];
    for (const body of samples) expect([body, accepts(jobs, body)]).toEqual([body, zodAccepts(body)]);
  });

  it("has examples that the document and the validators accept", () => {
    let examples = 0;
    for (const route of documented) {
      if (isExcluded(route.doc) || !route.doc.body?.example) continue;
      examples++;
      const example = route.doc.body.example;
      const op = operationOf(route) as JsonSchema;
      const json = (op.requestBody as { content: Record<string, { schema: JsonSchema; example: unknown }> })
        .content["application/json"];
      expect(json?.example).toEqual(example);
      expect([route.path, accepts(resolve(json?.schema), example)]).toEqual([route.path, true]);
      const s = route.doc.body.schema;
      const schemas = typeof s === "function" ? s() : Array.isArray(s) ? s : [s as z.ZodMiniType];
      expect([route.path, schemas.some((x) => x.safeParse(example).success)]).toEqual([route.path, true]);
    }
    expect(examples).toBeGreaterThanOrEqual(5);
  });
});

/** OpenAI's request bodies, from the vendored spec (test/fixtures/openai-images). */
const openaiRequestSchemas = (
  JSON.parse(
    readFileSync(new URL("../fixtures/openai-images/openai-images.json", import.meta.url), "utf8"),
  ) as { components: { schemas: Record<string, { properties?: Record<string, unknown> }> } }
).components.schemas;

/** A list of an OpenAI type's keys that tsc checks is complete: a new SDK field fails the type check. */
const allKeys =
  <T>() =>
  <const L extends readonly (keyof T)[]>(
    list: L &
      ([Exclude<keyof T, L[number]>] extends [never] ? unknown : { missing: Exclude<keyof T, L[number]> }),
  ) =>
    list;

// OpenAI's request fields (openai SDK types) this service does not take, and why. Everything else must be in the
// document: a field that appears in either list changes this test.
const notTaken: Record<string, string> = {
  complexity: "SVG and animation parameters of newer models, not served here",
  frame_count: "animation",
  frame_duration_ms: "animation",
  svg: "SVG output",
  markup: "SVG markup input",
  safety_identifier: "not forwarded; `user` is",
};

describe("OpenAI compatibility", () => {
  it.each([
    [
      "/v1/images/generations",
      allKeys<ImageGenerateParamsBase>()([
        "prompt",
        "background",
        "complexity",
        "frame_count",
        "frame_duration_ms",
        "model",
        "moderation",
        "n",
        "output_compression",
        "output_format",
        "partial_images",
        "quality",
        "response_format",
        "safety_identifier",
        "size",
        "stream",
        "style",
        "svg",
        "user",
      ]),
    ],
    [
      "/v1/images/edits",
      allKeys<ImageEditParamsBase>()([
        "image",
        "prompt",
        "background",
        "complexity",
        "frame_count",
        "frame_duration_ms",
        "input_fidelity",
        "markup",
        "mask",
        "model",
        "n",
        "output_compression",
        "output_format",
        "partial_images",
        "quality",
        "response_format",
        "safety_identifier",
        "size",
        "stream",
        "svg",
        "user",
      ]),
    ],
    [
      "/v1/images/variations",
      allKeys<ImageCreateVariationParams>()(["image", "model", "n", "response_format", "size", "user"]),
    ],
  ])("%s takes OpenAI's request fields", (path, fields) => {
    const body = doc.paths[path]?.post?.requestBody as { content: object } | undefined;
    const types = Object.keys(body?.content ?? {});
    expect(types[0]).toBe("application/json");
    for (const type of types) {
      const schema = requestSchema(path, type);
      const forms = (schema.anyOf as JsonSchema[] | undefined) ?? [schema];
      const ours = Object.keys(forms[0]?.properties as object);
      expect(fields.filter((f) => !(f in notTaken) && !ours.includes(f))).toEqual([]);
      expect(fields.filter((f) => f in notTaken && ours.includes(f))).toEqual([]);
    }
    const op = doc.paths[path]?.post;
    // With stream: true, OpenAI's image events instead (variations do not stream).
    const events = {
      "/v1/images/generations": "ImageGenStreamEvent",
      "/v1/images/edits": "ImageEditStreamEvent",
    }[path];
    expect(op?.responses["200"]?.content).toEqual({
      "application/json": { schema: { $ref: "#/components/schemas/ImagesResponse" } },
      ...(events && { "text/event-stream": { schema: { $ref: `#/components/schemas/${events}` } } }),
    });
  });

  it.each([
    ["/v1/images/generations", "application/json", "CreateImageRequest"],
    ["/v1/images/edits", "multipart/form-data", "CreateImageEditRequest"],
    ["/v1/images/edits", "application/json", "EditImageBodyJsonParam"],
    ["/v1/images/variations", "multipart/form-data", "CreateImageVariationRequest"],
  ])("%s (%s) takes every field of OpenAI's %s (the vendored spec)", (path, type, name) => {
    const theirs = Object.keys(openaiRequestSchemas[name]?.properties ?? {});
    expect(theirs.length).toBeGreaterThan(5);
    const schema = requestSchema(path, type);
    const ours = ((schema.anyOf as JsonSchema[] | undefined) ?? [schema]).flatMap((s) =>
      Object.keys(s.properties as object),
    );
    expect(theirs.filter((f) => !(f in notTaken) && !ours.includes(f))).toEqual([]);
  });

  it("answers with OpenAI's ImagesResponse fields, and no others", () => {
    const openai: readonly string[] = allKeys<ImagesResponse>()([
      "created",
      "background",
      "data",
      "output_format",
      "quality",
      "safety_identifier",
      "size",
      "svg_usage",
      "usage",
    ]);
    const ours = resolve({ $ref: "#/components/schemas/ImagesResponse" });
    expect(Object.keys(ours.properties as object).filter((f) => !openai.includes(f))).toEqual([]);
    expect(ours.required).toEqual(["created", "data", "output_format"]);
  });

  it("marks every optional parameter nullable, as OpenAI does, and lists each model's qualities", () => {
    for (const path of ["/v1/images/generations", "/v1/images/edits", "/v1/images/variations"]) {
      const schema = requestSchema(path);
      for (const s of (schema.anyOf as JsonSchema[] | undefined) ?? [schema]) {
        const required = (s.required as string[] | undefined) ?? [];
        for (const [name, p] of Object.entries(s.properties as Record<string, JsonSchema>)) {
          if (required.includes(name) || ["image", "images", "mask"].includes(name)) continue;
          // anyOf [T, null], or a list of types for a primitive.
          const nullable =
            (p.anyOf as JsonSchema[] | undefined)?.some((x) => x.type === "null") ||
            (Array.isArray(p.type) && p.type.includes("null"));
          expect([path, name, nullable]).toEqual([path, name, true]);
        }
      }
    }
    const quality = (requestSchema("/v1/images/generations").properties as Record<string, JsonSchema>)
      .quality as JsonSchema;
    const described = (quality.anyOf as JsonSchema[])[0]?.description as string;
    expect(described).toContain("gpt-image-2.5-flare, gpt-image-2.5-sunburst, gpt-image-2.6-flare");
    expect(described).toMatch(/gpt-image-2, [^;]*: auto, low, medium, high;/);
    expect(described).toMatch(/gpt-image-2\.6-flare[^;]*: auto, low, medium, high, xhigh, max/);
  });

  it("uses OpenAI's operationIds for OpenAI's endpoints", () => {
    expect(doc.paths["/v1/images/generations"]?.post?.operationId).toBe("createImage");
    expect(doc.paths["/v1/images/edits"]?.post?.operationId).toBe("createImageEdit");
    expect(doc.paths["/v1/images/variations"]?.post?.operationId).toBe("createImageVariation");
    expect(doc.paths["/v1/models"]?.get?.operationId).toBe("listModels");
    expect(doc.paths["/v1/models/{model}"]?.get?.operationId).toBe("retrieveModel");
  });
});
