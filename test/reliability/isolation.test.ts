import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HttpResult, httpClient, type Json } from "../support/http.ts";
import { type ServiceStack, startServiceStack } from "../support/service-stack.ts";
import { printFigures } from "./figures.ts";

// Tenant isolation through every API path: tenant B ("other") probes tenant A's ("acme") jobs and images by id,
// listing, cursor, cancel, job references in edits, output URLs, idempotency keys and the webhook secret.
// Private URLs are refused as in production (ALLOW_PRIVATE_URLS=false; the emulators are on loopback).

let svc: ServiceStack;
let a: ReturnType<typeof httpClient>;
let b: ReturnType<typeof httpClient>;
let aJob: Json;
let aQueued: string;
const probes: { what: string; status: number }[] = [];

const generate = { operation: "generate", input: { prompt: "tenant A's secret picture", size: "1024x1024" } };
const generateB = { operation: "generate", input: { prompt: "B's own", size: "1024x1024" } };

async function settled(client: ReturnType<typeof httpClient>, id: string): Promise<Json> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const job = (await client.get(`/v1/jobs/${id}`, { prefer: "wait=5" })).body;
    if (["succeeded", "failed", "canceled"].includes(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} did not settle`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A probe by B that must be refused as if A's thing did not exist, in OpenAI's envelope, leaking nothing. */
function refused(what: string, res: HttpResult, status: number, code?: string) {
  probes.push({ what, status: res.status });
  expect(res.status, `${what}: ${res.text}`).toBe(status);
  expect(Object.keys(res.body.error).sort(), what).toEqual(["code", "message", "param", "type"]);
  if (code) expect(res.body.error.code, what).toBe(code);
  expect(res.text, what).not.toContain("tenant A's secret picture");
  expect(res.text, what).not.toContain("acme");
}

beforeAll(async () => {
  svc = await startServiceStack({ env: { ALLOW_PRIVATE_URLS: "false" }, overrides: { urlPolicy: false } });
  a = httpClient(svc.url, svc.keys.acme);
  b = httpClient(svc.url, svc.keys.other);
  const submitted = await a.post("/v1/jobs", generate, { "idempotency-key": "shared-key-1" });
  expect(submitted.status).toBe(202);
  aJob = await settled(a, submitted.body.id);
  expect(aJob.status).toBe("succeeded");
  aQueued = (await a.post("/v1/jobs", generate)).body.id;
});

afterAll(async () => {
  await svc?.close();
});

describe("tenant isolation", () => {
  it("B cannot read, list, page into or cancel A's jobs", async () => {
    refused("get A's job", await b.get(`/v1/jobs/${aJob.id}`), 404, "not_found");
    refused("get A's job, upper case", await b.get(`/v1/jobs/${aJob.id.toUpperCase()}`), 404, "not_found");
    refused("get A's job, encoded", await b.get(`/v1/jobs/${encodeURIComponent(`${aJob.id}`)}%20`), 404);
    refused("cancel A's job", await b.post(`/v1/jobs/${aQueued}/cancel`), 404, "not_found");
    const ownB = (await b.post("/v1/jobs", generateB)).body.id as string;
    for (const query of ["", "?status=succeeded", "?status=queued", "?operation=generate", "?limit=100"]) {
      const list = await b.get(`/v1/jobs${query}`);
      probes.push({ what: `list ${query}`, status: list.status });
      expect(list.status).toBe(200);
      const ids = list.body.data.map((j: Json) => j.id);
      expect(ids).not.toContain(aJob.id);
      expect(ids).not.toContain(aQueued);
      expect(list.text).not.toContain("tenant A's secret picture");
    }
    // A's cursor, replayed by B, pages through B's own jobs (or is refused), never A's.
    const page = await a.get("/v1/jobs?limit=1");
    expect(page.body.next_cursor).toEqual(expect.any(String));
    const replay = await b.get(`/v1/jobs?limit=1&after=${page.body.next_cursor}`);
    probes.push({ what: "list with A's cursor", status: replay.status });
    if (replay.status === 200) {
      for (const j of replay.body.data) expect([ownB]).toContain(j.id);
    } else refused("list with A's cursor", replay, 400);
    // A's queued job was not canceled by B's attempt.
    expect((await settled(a, aQueued)).status).toBe("succeeded");
  });

  it("B cannot use A's outputs as inputs: not by reference, not by A's URL, not by a forged path", async () => {
    const url = new URL(aJob.output.images[0].url as string);
    const unsigned = `${url.origin}${url.pathname}`;
    const forged = unsigned.replace("/tenants/acme/", "/tenants/other/");
    const refs: [string, unknown, string][] = [
      ["reference", { job_id: aJob.id, index: 0 }, "job_not_found"],
      ["reference, index 1", { job_id: aJob.id, index: 1 }, "job_not_found"],
      ["A's output URL without its signature", unsigned, "url_not_allowed"],
      ["A's job under B's path", forged, "job_not_found"],
      ["A's job under B's path, encoded", forged.replace("/jobs/", "/jobs%2F"), "job_not_found"],
      ["traversal", unsigned.replace("/tenants/acme/", "/tenants/other/../acme/"), "url_not_allowed"],
    ];
    for (const [what, image, code] of refs) {
      refused(`edit: ${what}`, await b.post("/v1/images/edits", { prompt: "x", image }), 400, code);
      refused(
        `job edit: ${what}`,
        await b.post("/v1/jobs", { operation: "edit", input: { prompt: "x", images: [image] } }),
        400,
        code,
      );
      refused(`variation: ${what}`, await b.post("/v1/images/variations", { image }), 400, code);
    }
    // The same reference works for its owner, so the refusals above are about the tenant.
    const own = await a.post("/v1/jobs", {
      operation: "edit",
      input: { prompt: "x", images: [{ job_id: aJob.id, index: 0 }] },
    });
    expect(own.status, own.text).toBe(202);
  });

  it("B's Idempotency-Key equal to A's starts B's own job; A's replay is still A's", async () => {
    const bRes = await b.post("/v1/jobs", generate, { "idempotency-key": "shared-key-1" });
    probes.push({ what: "reuse A's idempotency key", status: bRes.status });
    expect(bRes.status).toBe(202);
    expect(bRes.body.id).not.toBe(aJob.id);
    expect(bRes.headers.get("idempotent-replayed")).toBeNull();
    const aReplay = await a.post("/v1/jobs", generate, { "idempotency-key": "shared-key-1" });
    expect(aReplay.body.id).toBe(aJob.id);
    // And B's replay is B's.
    const bReplay = await b.post("/v1/jobs", generate, { "idempotency-key": "shared-key-1" });
    expect(bReplay.body.id).toBe(bRes.body.id);
  });

  it("B cannot read or rotate A's webhook secret", async () => {
    const aSecret = (await a.get("/v1/webhooks/secret")).body.secret;
    const bSecret = (await b.get("/v1/webhooks/secret")).body.secret;
    expect(aSecret).toMatch(/^whsec_/);
    expect(bSecret).toMatch(/^whsec_/);
    expect(bSecret).not.toBe(aSecret);
    const rotated = (await b.post("/v1/webhooks/secret/rotate")).body.secret;
    expect(rotated).not.toBe(bSecret);
    expect((await a.get("/v1/webhooks/secret")).body.secret).toBe(aSecret);
    probes.push({ what: "webhook secret", status: 200 });
  });

  it("B's key cannot reach /admin, and the admin key cannot act as a tenant", async () => {
    refused("admin keys", await b.get("/admin/keys?tenant=acme"), 403, "permission_denied");
    refused("admin usage", await b.get("/admin/usage?tenant=acme"), 403, "permission_denied");
    refused("create a key for A", await b.post("/admin/keys", { tenant: "acme", name: "x" }), 403);
    printFigures("isolation", {
      probes: probes.length,
      "by status": [...new Set(probes.map((p) => p.status))]
        .map((s) => `${s}:${probes.filter((p) => p.status === s).length}`)
        .join(" "),
      "A's data seen by B": 0,
    });
  });
});
