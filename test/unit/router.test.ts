import { describe, expect, it } from "vitest";
import { type Route, Router } from "../../lib/api/router.ts";
import { MethodNotAllowedError, NotFoundError } from "../../lib/errors.ts";

// Method matching: HEAD runs the GET route, and a 405 names every method the path takes.

const route = (method: Route["method"], path: string): Route => ({
  method,
  path,
  doc: { excluded: "test" },
  handle: async () => ({ status: 200 }),
});

const getJob = route("GET", "/v1/jobs/{id}");
const cancel = route("POST", "/v1/jobs/{id}/cancel");
const router = new Router([route("POST", "/v1/jobs"), route("GET", "/v1/jobs"), getJob, cancel]);

function refusal(method: string, path: string): unknown {
  try {
    router.match(method, path);
  } catch (err) {
    return err;
  }
  throw new Error(`${method} ${path} was routed`);
}

describe("Router", () => {
  it("answers HEAD with the GET route and its params", () => {
    expect(router.match("HEAD", "/v1/jobs/job_1")).toEqual({ route: getJob, params: { id: "job_1" } });
    expect(router.match("GET", "/v1/jobs/job_1").route).toBe(getJob);
  });

  it("refuses HEAD where there is no GET, with 405 and the methods allowed", () => {
    const err = refusal("HEAD", "/v1/jobs/job_1/cancel");
    expect(err).toBeInstanceOf(MethodNotAllowedError);
    expect((err as MethodNotAllowedError).status).toBe(405);
    expect((err as MethodNotAllowedError).headers).toEqual({ allow: "POST" });
  });

  it("lists HEAD beside GET in Allow", () => {
    expect((refusal("DELETE", "/v1/jobs") as MethodNotAllowedError).headers).toEqual({
      allow: "POST, GET, HEAD",
    });
    expect((refusal("PUT", "/v1/jobs/job_1") as MethodNotAllowedError).headers).toEqual({
      allow: "GET, HEAD",
    });
  });

  it("matches paths exactly: a trailing slash or an empty id is a 404, never another route", () => {
    for (const [method, path] of [
      ["GET", "/v1/jobs/"],
      ["POST", "/v1/jobs/"],
      ["DELETE", "/v1/jobs/"],
      ["GET", "/v1/jobs//cancel"],
      ["POST", "/v1/jobs//cancel"],
      ["GET", "/v1/jobs/job_1/"],
    ] as const) {
      const err = refusal(method, path);
      expect([method, path, err instanceof NotFoundError && err.code]).toEqual([method, path, "unknown_url"]);
    }
  });

  it("answers 404 for a path no route has, whatever the method", () => {
    expect(refusal("HEAD", "/v2/nothing")).toBeInstanceOf(NotFoundError);
    expect(refusal("GET", "/v2/nothing")).toBeInstanceOf(NotFoundError);
  });
});
