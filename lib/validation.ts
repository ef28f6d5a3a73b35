import * as z from "zod/mini";
import { InvalidInput } from "./jobs/errors.ts";

/**
 * An optional request parameter that also takes `null`, meaning "not given": OpenAI marks every optional
 * parameter nullable, and its SDKs send null for fields a caller cleared. The document shows `anyOf [T, null]`.
 */
export function optionalParam<T extends z.ZodMiniType>(schema: T) {
  return z.optional(
    z.pipe(
      z.nullable(schema),
      z.transform((v: z.output<T> | null) => v ?? undefined),
    ),
  );
}

type Issue = z.core.$ZodIssue;

function pathOf(issue: Issue): string {
  return issue.path
    .map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join("");
}

/** zod/mini ships no messages ("Invalid input"), so say what is wrong here, once, for every schema. */
export function describeIssue(issue: Issue): string {
  switch (issue.code) {
    case "invalid_type":
      return issue.input === undefined ? "is required" : `must be ${article(issue.expected)}`;
    case "too_big":
      return issue.origin === "string"
        ? `must be at most ${issue.maximum} characters`
        : issue.origin === "array"
          ? `must have at most ${issue.maximum} items`
          : `must be at most ${issue.maximum}`;
    case "too_small":
      return issue.origin === "string"
        ? issue.minimum === 1
          ? "must not be empty"
          : `must be at least ${issue.minimum} characters`
        : issue.origin === "array"
          ? `must have at least ${issue.minimum} items`
          : `must be at least ${issue.minimum}`;
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "invalid_format":
      // A pattern's own message says what it wants; "a valid regex" would not.
      return issue.format === "regex" && issue.message && issue.message !== "Invalid input"
        ? issue.message
        : `must be a valid ${issue.format}`;
    case "not_multiple_of":
      return `must be a multiple of ${issue.divisor}`;
    case "unrecognized_keys":
      return `has unknown parameter${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `'${k}'`).join(", ")}`;
    case "invalid_union":
      return "is not valid";
    default:
      return issue.message && issue.message !== "Invalid input" ? issue.message : "is invalid";
  }
}

function article(type: string): string {
  if (type === "int") return "an integer";
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

export function formatIssues(issues: readonly Issue[]): string {
  return issues.map((i) => `${pathOf(i) || "value"} ${describeIssue(i)}`).join("; ");
}

/**
 * Parses untrusted input, turning the first issue into a 400 that names its parameter: under `prefix`
 * (`input.size`), or as `prefix` renames it (another API's name for the field).
 */
export function parseRequest<T extends z.ZodMiniType>(
  schema: T,
  input: unknown,
  prefix: string | ((name: string) => string) = "",
): z.infer<T> {
  // reportInput: without it zod leaves `input` out of issues, and every wrong type would read "is required".
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data as z.infer<T>;
  const issue = result.error.issues[0] as Issue;
  const unknownKey = issue.code === "unrecognized_keys" ? issue.keys[0] : undefined;
  const inner = [pathOf(issue), unknownKey].filter(Boolean).join(".");
  const path =
    typeof prefix === "function"
      ? inner
        ? prefix(inner)
        : null
      : [prefix, inner].filter(Boolean).join(".") || null;
  const message =
    issue.code === "unrecognized_keys"
      ? `Unknown parameter: '${path}'.`
      : issue.code === "custom" && issue.message
        ? issue.message
        : `Invalid '${path ?? "body"}': ${describeIssue(issue)}.`;
  return throwInvalid(message, path);
}

function throwInvalid(message: string, param: string | null): never {
  throw new InvalidInput(message, { param: param ?? undefined });
}
