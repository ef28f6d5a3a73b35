import { describe, expect, it } from "vitest";
import * as z from "zod/mini";
import { type ApiError, toApiError } from "../../lib/errors.ts";
import { InvalidInput } from "../../lib/jobs/errors.ts";
import { parseRequest } from "../../lib/validation.ts";

const schema = z.strictObject({
  prompt: z.string().check(z.minLength(1), z.maxLength(5)),
  n: z.optional(z.number().check(z.int(), z.gte(1), z.lte(10))),
  fmt: z.optional(z.enum(["png", "webp"])),
  nested: z.optional(z.object({ url: z.string() })),
});

/** The refusal as the HTTP edge answers it. */
function errorOf(input: unknown, prefix: string | ((name: string) => string) = ""): ApiError {
  try {
    parseRequest(schema, input, prefix);
  } catch (err) {
    if (err instanceof InvalidInput) return toApiError(err);
  }
  throw new Error("expected an InvalidInput");
}

describe("request validation", () => {
  it.each([
    [{}, "prompt", "Invalid 'prompt': is required."],
    [{ prompt: "" }, "prompt", "Invalid 'prompt': must not be empty."],
    [{ prompt: "toolong" }, "prompt", "Invalid 'prompt': must be at most 5 characters."],
    [{ prompt: "x", n: 0 }, "n", "Invalid 'n': must be at least 1."],
    [{ prompt: "x", n: 1.5 }, "n", "Invalid 'n': must be an integer."],
    [{ prompt: "x", n: "2" }, "n", "Invalid 'n': must be a number."],
    [{ prompt: "x", fmt: "gif" }, "fmt", `Invalid 'fmt': must be one of "png", "webp".`],
    [{ prompt: "x", nested: { url: 1 } }, "nested.url", "Invalid 'nested.url': must be a string."],
    [{ prompt: "x", extra: true }, "extra", "Unknown parameter: 'extra'."],
  ])("%j → 400 naming %s", (input, param, message) => {
    const err = errorOf(input);
    expect([err.status, err.param, err.message]).toEqual([400, param, message]);
  });

  it("prefixes the param for nested request objects", () => {
    expect(errorOf({ prompt: "x", n: 11 }, "input").param).toBe("input.n");
  });

  it("names the param as another API calls it, when given a renaming", () => {
    const names: Record<string, string> = { n: "numberOfImages" };
    const err = errorOf({ prompt: "x", n: 11 }, (name) => names[name] ?? name);
    expect([err.param, err.message]).toEqual([
      "numberOfImages",
      "Invalid 'numberOfImages': must be at most 10.",
    ]);
    expect(errorOf({ prompt: "x", extra: 1 }, (name) => `the ${name}`).message).toBe(
      "Unknown parameter: 'the extra'.",
    );
  });
});
