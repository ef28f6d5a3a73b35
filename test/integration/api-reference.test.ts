import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OpenApiDocument } from "../../lib/api/reference/document.ts";
import { Contract } from "../support/contract.ts";
import { type HttpResult, httpClient } from "../support/http.ts";
import { picture } from "../support/images.ts";
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
  let contract: Contract | undefined;

  /** Checks a real response against the document: its status is listed, its body matches the named schema. */
  function expectDocumented(method: string, path: string, res: HttpResult) {
    const op = doc.paths[path]?.[method.toLowerCase()];
    expect(op, `${method} ${path}`).toBeDefined();
    const documented = op?.responses[String(res.status)];
    expect([method, path, res.status, documented !== undefined]).toEqual([method, path, res.status, true]);
    const concrete = path.replace(/\{\w+\}/g, "x");
    contract ??= new Contract(doc);
    const problem = contract.problem({
      method,
      path: concrete,
      status: res.status,
      contentType: res.headers.get("content-type") ?? undefined,
      body: res.text,
    });
    expect([method, path, problem ?? "ok"]).toEqual([method, path, "ok"]);
    if (res.status < 400) checked.add(`${method} ${path}`);
  }

  it("answers every operation with a documented status and body", async () => {
    const tenant = httpClient(svc.url, svc.keys.acme);
    const admin = httpClient(svc.url, adminKey);
    const anonymous = httpClient(svc.url);
    const png = (await picture(64, 64)).toString("base64");

    expectDocumented("GET", "/health", await anonymous.get("/health"));
    expectDocumented("GET", "/v1/models", await tenant.get("/v1/models"));
    expectDocumented("GET", "/v1/models/{model}", await tenant.get("/v1/models/gpt-image-2"));
    expectDocumented("GET", "/v1/models/{model}", await tenant.get("/v1/models/dall-e-2"));
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
    expectDocumented("POST", "/v1/uploads", await tenant.post("/v1/uploads", { bytes: 1000 }));
    expectDocumented("POST", "/v1/uploads", await tenant.post("/v1/uploads", { bytes: 1e9 }));
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

    // Other services' APIs (lib/api/dialects), answered in their own shapes.
    const backendless = "/api/services/OpenAIImageService";
    const vision = "/api/v1/openai/image";
    const dataUrl = `data:image/png;base64,${png}`;
    expectDocumented(
      "POST",
      `${backendless}/createImage`,
      await tenant.post(`${backendless}/createImage`, { prompt: "a cat in a hat", size: "256x256" }),
    );
    expectDocumented(
      "POST",
      `${backendless}/createImageEdit`,
      await tenant.post(`${backendless}/createImageEdit`, { imageUrl: dataUrl, prompt: "a hat" }),
    );
    expectDocumented(
      "POST",
      `${backendless}/createImageVariation`,
      await tenant.post(`${backendless}/createImageVariation`, {
        imageUrl: dataUrl,
        responseFormat: "b64_json",
      }),
    );
    expectDocumented(
      "POST",
      `${vision}/generation/generate-image`,
      await tenant.post(`${vision}/generation/generate-image`, { prompt: "a logo", aspect_ratio: "2:3" }),
    );
    expectDocumented(
      "POST",
      `${vision}/editing/edit-image`,
      await tenant.post(`${vision}/editing/edit-image`, { prompt: "sunset", image_file: png }),
    );
    expectDocumented(
      "POST",
      `${vision}/editing/inpaint`,
      await tenant.post(`${vision}/editing/inpaint`, {
        prompt: "a forest",
        image_file: png,
        inpaint_border_only: true,
        border_percentage: 0.1,
      }),
    );
    expectDocumented(
      "POST",
      "/api/images/generations",
      await tenant.post("/api/images/generations", { prompt: "a cat", response_format: "b64_json" }),
    );
    expectDocumented(
      "POST",
      `${backendless}/createImage`,
      await anonymous.post(`${backendless}/createImage`, {}),
    );
    expectDocumented(
      "POST",
      `${vision}/editing/inpaint`,
      await tenant.post(`${vision}/editing/inpaint`, { prompt: "x" }),
    );
    expectDocumented(
      "POST",
      "/api/images/generations",
      await tenant.post("/api/images/generations", { n: 1 }),
    );

    // Errors, in the envelope, with statuses the document lists for the operation.
    expectDocumented("GET", "/v1/jobs/{id}", await tenant.get("/v1/jobs/job_00000000000000000000000000"));
    expectDocumented("POST", "/v1/images/generations", await tenant.post("/v1/images/generations", { n: 1 }));
    expectDocumented("GET", "/v1/models", await anonymous.get("/v1/models"));
    expectDocumented("GET", "/admin/usage", await tenant.get("/admin/usage?tenant=acme"));

    // Paths match exactly, as the document says: an empty id is no route, not the list or a 405.
    expect((doc.info as { description: string }).description).toContain("a trailing slash or an empty path");
    for (const [client, method, path] of [
      [tenant, "GET", "/v1/jobs/"],
      [tenant, "POST", "/v1/jobs//cancel"],
      [admin, "DELETE", "/admin/keys/"],
    ] as const) {
      const res = await client.call(method, path);
      expect([method, path, res.status, res.body.error.code]).toEqual([method, path, 404, "unknown_url"]);
    }

    const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect([...checked].sort()).toEqual(operations.sort());
  });
});
