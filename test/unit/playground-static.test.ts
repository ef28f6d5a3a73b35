import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toResult } from "../../lib/api/http.ts";
import { Router } from "../../lib/api/router.ts";
import { playgroundRoutes } from "../../lib/api/routes/playground.ts";

// The playground's static files, through the router and the API Gateway result as the API Lambda answers.

describe("playground static files", () => {
  let dir: string;
  let router: Router;
  const script = "console.log('playground');";

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "playground-"));
    await mkdir(join(dir, "assets"));
    await writeFile(join(dir, "index.html"), "<!doctype html><title>p</title>");
    await writeFile(join(dir, "assets", "index-AbC123.js"), script);
    await writeFile(join(dir, "assets", "index-AbC123.css"), "body{}");
    await writeFile(join(dir, "assets", "notes.txt"), "not served: unknown type");
    await writeFile(join(dir, "secret.json"), "{}");
    router = new Router(playgroundRoutes({ dir, imageOrigins: ["http://127.0.0.1:4566"] }));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const get = async (path: string, headers: Record<string, string> = {}) => {
    const { route, params } = router.match("GET", path);
    expect(route.public).toBe(true);
    const res = await route.handle({
      req: {
        method: "GET",
        path,
        query: new URLSearchParams(),
        headers,
        body: Buffer.alloc(0),
        requestId: "r",
      },
      params,
      principal: { tenant: "", keyId: "", limits: {} },
    });
    return toResult(res, "r");
  };
  const bodyOf = (r: Awaited<ReturnType<typeof get>>) =>
    Buffer.from(r.body ?? "", r.isBase64Encoded ? "base64" : "utf8").toString("utf8");

  it("serve index.html at / revalidated on every load, with a strict CSP and nosniff", async () => {
    const r = await get("/");
    expect(r.statusCode).toBe(200);
    expect(bodyOf(r)).toBe("<!doctype html><title>p</title>");
    expect(r.headers?.["content-type"]).toBe("text/html; charset=utf-8");
    expect(r.headers?.["cache-control"]).toBe("no-cache");
    expect(r.headers?.["x-content-type-options"]).toBe("nosniff");
    const csp = String(r.headers?.["content-security-policy"]);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).toContain("img-src 'self' data: blob: http://127.0.0.1:4566");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
  });

  it("serve hashed assets with their content type, cached as immutable", async () => {
    const js = await get("/assets/index-AbC123.js");
    expect(js.statusCode).toBe(200);
    expect(bodyOf(js)).toBe(script);
    expect(js.headers?.["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(js.headers?.["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(js.headers?.["x-content-type-options"]).toBe("nosniff");
    const css = await get("/assets/index-AbC123.css");
    expect(css.headers?.["content-type"]).toBe("text/css; charset=utf-8");
  });

  it("answer a matching If-None-Match with 304 and no body", async () => {
    const first = await get("/");
    const etag = String(first.headers?.etag);
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await get("/", { "if-none-match": etag });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe("");
    expect((await get("/", { "if-none-match": '"other"' })).statusCode).toBe(200);
  });

  it("serve only the bundle's own files: unknown names, other types and escapes are 404", async () => {
    for (const path of [
      "/assets/missing.js",
      "/assets/notes.txt",
      "/assets/..%2Fsecret.json",
      "/secret.json",
    ]) {
      const r = await get(path).catch((err: unknown) => err);
      expect(r).toMatchObject({ status: 404 });
    }
  });

  it("say how to build the playground when it is missing, and pick it up once built", async () => {
    const empty = await mkdtemp(join(tmpdir(), "playground-empty-"));
    const missing = new Router(playgroundRoutes({ dir: empty, imageOrigins: [] }));
    const { route, params } = missing.match("GET", "/");
    const ctx = {
      req: {
        method: "GET",
        path: "/",
        query: new URLSearchParams(),
        headers: {},
        body: Buffer.alloc(0),
        requestId: "r",
      },
      params,
      principal: { tenant: "", keyId: "", limits: {} },
    };
    await expect(route.handle(ctx)).rejects.toMatchObject({ status: 404, code: "playground_not_built" });
    await writeFile(join(empty, "index.html"), "<!doctype html>");
    expect((await route.handle(ctx)).status).toBe(200);
    await rm(empty, { recursive: true, force: true });
  });
});
