import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OpenApiDocument } from "../../lib/api/reference/document.ts";
import { errorEnvelope, responseSchemas } from "../../lib/api/reference/responses.ts";
import { type HttpResult, httpClient } from "../support/http.ts";
import { picture } from "../support/images.ts";
import { parseSse } from "../support/openai-stream-events.ts";
import { type ServiceStack, startServiceStack } from "../support/service-stack.ts";

// The API reference over HTTP, from the service as it runs (emulators, the placeholder provider): /openapi.json
// and /docs, and every documented operation called for real, its answer checked against what the document says.

const adminKey = "sk-admin-reference-test-0123456789abcdef";
let svc: ServiceStack;
let doc: OpenApiDocument;

beforeAll(async () => {
  svc = await startServiceStack({ env: { ADMIN_API_KEY: adminKey, SYNC_WAIT_MS: "20000" } });
});
afterAll(async () => {
  await svc?.close();
});

describe("/openapi.json", () => {
  it("serves the document without a key, cacheable and revalidated by its ETag", async () => {
    const res = await fetch(`${svc.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("public, max-age=300");
    doc = (await res.json()) as OpenApiDocument;
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.paths["/v1/images/generations"]?.post?.operationId).toBe("createImage");
    const etag = res.headers.get("etag") ?? "";
    expect(etag).toMatch(/^"[\w-]{27}"$/);
    const again = await fetch(`${svc.url}/openapi.json`, { headers: { "if-none-match": etag } });
    expect([again.status, await again.text(), again.headers.get("etag")]).toEqual([304, "", etag]);
    const stale = await fetch(`${svc.url}/openapi.json`, { headers: { "if-none-match": '"other"' } });
    expect(stale.status).toBe(200);
  });
});

describe("/docs", () => {
  it("serves a self-contained page whose only style its CSP allows by hash", async () => {
    const res = await fetch(`${svc.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const html = await res.text();
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain("unsafe-inline");
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? "";
    const hash = createHash("sha256").update(style).digest("base64");
    expect(csp).toContain(`style-src 'sha256-${hash}'`);
    expect(html.match(/<style>/g)).toHaveLength(1);
    // Nothing to fetch from anywhere: no scripts, no external styles, images or fonts.
    expect(html).not.toMatch(/<script|<link|<img|@import|url\(/i);
    expect(html).toMatch(/^<!doctype html>\n<html lang="en">/);
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
  });

  it("lists each tag's operations with parameters, bodies, examples and responses", async () => {
    const html = await (await fetch(`${svc.url}/docs`)).text();
    expect(html).toContain('<h2 id="tag-Images">Images</h2>');
    const article = (id: string) =>
      html.slice(
        html.indexOf(`<article id="op-${id}"`),
        html.indexOf("</article>", html.indexOf(`<article id="op-${id}"`)),
      );
    const create = article("createImage");
    expect(create).toContain("<code>/v1/images/generations</code>");
    expect(create).toContain('<code>prompt</code> <span class="muted">required</span>');
    expect(create).toContain("Idempotency-Key");
    expect(create).toContain("-d &#39;{&quot;prompt&quot;:&quot;A lighthouse at dusk, watercolor&quot;");
    expect(create).toContain('<a href="#schema-ImagesResponse">ImagesResponse</a>');
    expect(article("createImageEdit")).toContain("-F &#39;image=@image.png&#39;");
    expect(article("listJobs")).toMatch(/<code>status<\/code><\/td><td>query<\/td>/);
    expect(html).toContain('<details id="schema-Job">');
    // Every operation of the document has its section, and every in-page link has its target.
    for (const item of Object.values(doc.paths)) {
      for (const op of Object.values(item)) expect(html).toContain(`<article id="op-${op.operationId}"`);
    }
    for (const [, target] of html.matchAll(/href="#([^"]+)"/g)) expect(html).toContain(`id="${target}"`);
  });
});

describe("responses as documented", () => {
  const checked = new Set<string>();

  /** Checks a real response against the document: its status is listed, its body matches the named schema. */
  function expectDocumented(method: string, path: string, res: HttpResult) {
    const op = doc.paths[path]?.[method.toLowerCase()];
    expect(op, `${method} ${path}`).toBeDefined();
    const documented = op?.responses[String(res.status)];
    expect([method, path, res.status, documented !== undefined]).toEqual([method, path, res.status, true]);
    const content = (documented?.content ?? {}) as Record<string, { schema: { $ref: string } }>;
    if ((res.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
      // An event stream: each event's data matches the schema documented for the stream.
      const name = (content["text/event-stream"]?.schema.$ref ?? "none").replace("#/components/schemas/", "");
      const schema = responseSchemas[name as keyof typeof responseSchemas];
      const frames = parseSse(res.text);
      expect(frames.length).toBeGreaterThan(0);
      for (const frame of frames) {
        const parsed = schema.safeParse(JSON.parse(frame.data));
        expect([method, path, frame.event, parsed.success ? "ok" : parsed.error.issues]).toEqual([
          method,
          path,
          frame.event,
          "ok",
        ]);
      }
      checked.add(`${method} ${path}`);
      return;
    }
    const ref = content["application/json"]?.schema.$ref ?? "none";
    const name = ref.replace("#/components/schemas/", "");
    const schema = name === "Error" ? errorEnvelope : responseSchemas[name as keyof typeof responseSchemas];
    const parsed = schema.safeParse(res.body);
    expect([method, path, parsed.success ? "ok" : parsed.error.issues]).toEqual([method, path, "ok"]);
    if (res.status < 400) checked.add(`${method} ${path}`);
  }

  it("answers every operation with a documented status and body", async () => {
    const tenant = httpClient(svc.url, svc.keys.acme);
    const admin = httpClient(svc.url, adminKey);
    const anonymous = httpClient(svc.url);
    const png = (await picture(64, 64)).toString("base64");

    expectDocumented("GET", "/health", await anonymous.get("/health"));
    expectDocumented("GET", "/v1/models", await tenant.get("/v1/models"));
    expectDocumented(
      "POST",
      "/v1/images/generations",
      await tenant.post("/v1/images/generations", { prompt: "a lighthouse", size: "1024x1024" }),
    );
    expectDocumented(
      "POST",
      "/v1/images/edits",
      await tenant.post("/v1/images/edits", { prompt: "add a scarf", image: `data:image/png;base64,${png}` }),
    );
    expectDocumented(
      "POST",
      "/v1/images/variations",
      await tenant.post("/v1/images/variations", { image: png, response_format: "b64_json" }),
    );
    expectDocumented(
      "POST",
      "/v1/images/remove-background",
      await tenant.post("/v1/images/remove-background", {
        image: png,
        model: "placeholder",
        response_format: "b64_json",
      }),
    );
    const waited = await tenant.post(
      "/v1/jobs",
      { operation: "generate", input: { prompt: "x" }, metadata: { k: "v" } },
      { prefer: "wait=20" },
    );
    expect(waited.status).toBe(201);
    expectDocumented("POST", "/v1/jobs", waited);
    expectDocumented("GET", "/v1/jobs", await tenant.get("/v1/jobs?limit=5"));
    expectDocumented("GET", "/v1/jobs/{id}", await tenant.get(`/v1/jobs/${waited.body.id}`));
    expectDocumented("GET", "/v1/jobs/{id}/events", await tenant.get(`/v1/jobs/${waited.body.id}/events`));
    expectDocumented(
      "POST",
      "/v1/images/generations",
      await tenant.post("/v1/images/generations", { prompt: "streamed", stream: true, partial_images: 1 }),
    );
    await svc.stopWorker();
    const queued = await tenant.post("/v1/jobs", { operation: "generate", input: { prompt: "y" } });
    expect(queued.status).toBe(202);
    expectDocumented("POST", "/v1/jobs", queued);
    expectDocumented("POST", "/v1/jobs/{id}/cancel", await tenant.post(`/v1/jobs/${queued.body.id}/cancel`));
    svc.startWorker();
    expectDocumented("POST", "/v1/jobs/{id}/cancel", await tenant.post(`/v1/jobs/${waited.body.id}/cancel`));
    expectDocumented("GET", "/v1/webhooks/secret", await tenant.get("/v1/webhooks/secret"));
    expectDocumented("POST", "/v1/webhooks/secret/rotate", await tenant.post("/v1/webhooks/secret/rotate"));
    expectDocumented(
      "POST",
      "/v1/webhooks/endpoints/enable",
      await tenant.post("/v1/webhooks/endpoints/enable", { url: "https://example.com/hooks" }),
    );
    const created = await admin.post("/admin/keys", { tenant: "docs", name: "reference test" });
    expectDocumented("POST", "/admin/keys", created);
    expectDocumented("GET", "/admin/keys", await admin.get("/admin/keys?tenant=docs"));
    expectDocumented(
      "DELETE",
      "/admin/keys/{id}",
      await admin.call("DELETE", `/admin/keys/${created.body.id}`),
    );
    expectDocumented("GET", "/admin/usage", await admin.get("/admin/usage?tenant=acme"));

    // Errors, in the envelope, with statuses the document lists for the operation.
    expectDocumented("GET", "/v1/jobs/{id}", await tenant.get("/v1/jobs/job_00000000000000000000000000"));
    expectDocumented("POST", "/v1/images/generations", await tenant.post("/v1/images/generations", { n: 1 }));
    expectDocumented("GET", "/v1/models", await anonymous.get("/v1/models"));
    expectDocumented("GET", "/admin/usage", await tenant.get("/admin/usage?tenant=acme"));

    const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect([...checked].sort()).toEqual(operations.sort());
  });
});
