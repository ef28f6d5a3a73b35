import { describe, expect, it } from "vitest";
import { lambdaContext } from "../../infra/sandbox/lambda.ts";
import { createApiHandler } from "../../lib/api/app.ts";
import { lambdaOverflow, lambdaResponseLimitBytes } from "../../lib/api/http.ts";
import type { Idempotency } from "../../lib/api/idempotency.ts";
import type { Route } from "../../lib/api/router.ts";
import { AdminKey } from "../../lib/auth/admin.ts";
import type { KeyStore } from "../../lib/auth/keys.ts";
import { createLogger } from "../../lib/logging.ts";
import { apiEvent } from "../support/lambda.ts";

// AWS Lambda returns at most 6 MB from a synchronous invocation; past it the client gets a bare 502 from API
// Gateway. The API handler answers such a response with an error that says why, whatever route made it.

const body = (bytes: number) => `{"data":"${"x".repeat(bytes - 11)}"}`;

function handlerAnswering(text: string, headers: Record<string, string> = {}) {
  const route: Route = {
    method: "GET",
    path: "/big",
    public: true,
    doc: { excluded: "test" },
    handle: async () => ({ status: 200, text, headers: { "content-type": "application/json", ...headers } }),
  };
  return createApiHandler({
    keys: {} as KeyStore,
    admin: new AdminKey(undefined),
    routes: [route],
    logger: createLogger({ level: "silent", format: "json", service: "test" }),
    maxRequestBytes: 1024,
    idempotency: {} as Idempotency,
  }).answer;
}

describe("the Lambda response ceiling", () => {
  it("counts what Lambda counts: the result as JSON, escapes and headers included", () => {
    // 3.2 MB of escaped quotes in the body: each is escaped again in the payload, which passes 6 MB.
    const quoted = `{"data":"${'\\"'.repeat(1_600_000)}"}`;
    const result = { statusCode: 200, headers: { a: "b" }, body: quoted };
    expect(quoted.length).toBeLessThan(lambdaResponseLimitBytes);
    expect(lambdaOverflow(result)).toBe(Buffer.byteLength(JSON.stringify(result)));
    // Two-byte characters: under 6 MB as characters, over it as UTF-8.
    const accents = { statusCode: 200, body: JSON.stringify({ data: "é".repeat(3_500_000) }) };
    expect(lambdaOverflow(accents)).toBeGreaterThan(lambdaResponseLimitBytes);
    expect(lambdaOverflow({ statusCode: 200, body: body(lambdaResponseLimitBytes - 4096) })).toBeUndefined();
  });

  it("passes an answer that fits, and turns one that does not into a 400 that says why", async () => {
    const fits = await handlerAnswering(body(lambdaResponseLimitBytes - 4096))(
      apiEvent("GET", "/big"),
      lambdaContext("api", 30_000),
    );
    expect([fits.statusCode, Buffer.byteLength(JSON.stringify(fits)) <= lambdaResponseLimitBytes]).toEqual([
      200,
      true,
    ]);
    const big = await handlerAnswering(body(lambdaResponseLimitBytes + 1), { "x-job-id": "job_x" })(
      apiEvent("GET", "/big"),
      lambdaContext("api", 30_000),
    );
    expect(big.statusCode).toBe(400);
    expect(big.headers?.["x-job-id"]).toBe("job_x");
    const error = JSON.parse(big.body ?? "").error;
    expect(error).toMatchObject({ code: "response_too_large", param: "response_format" });
    expect(error.message).toContain("GET /v1/jobs/job_x");
  });
});
