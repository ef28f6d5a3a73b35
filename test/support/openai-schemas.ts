import { readFileSync } from "node:fs";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

// OpenAI's own Images schemas (test/fixtures/openai-images, vendored from openai/openai-openapi), compiled once with
// ajv. Every Images response and stream event the suites receive goes through here: the SDK clients of
// test/support/openai.ts and the raw client of test/support/http.ts call it, so a drift from OpenAI's wire format
// fails whichever suite sees it.

type Schema = { [key: string]: unknown };

const fixture = JSON.parse(
  readFileSync(new URL("../fixtures/openai-images/openai-images.json", import.meta.url), "utf8"),
) as { source: { commit: string }; components: { schemas: Record<string, Schema> } };

/**
 * OpenAPI 3.0's `nullable: true`, which the spec still uses beside 3.1's `type: "null"`, as JSON Schema says it:
 * the value, or null. ajv knows `nullable` only beside `type`, and the spec also puts it beside `anyOf`.
 */
function nullableAsJsonSchema(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(nullableAsJsonSchema);
  if (!value || typeof value !== "object") return value;
  const { nullable, ...rest } = value as Schema;
  const converted = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, nullableAsJsonSchema(v)]));
  return nullable === true ? { anyOf: [converted, { type: "null" }] } : converted;
}

/** The vendored schemas, with the few fields the spec has not caught up with relaxed (each says why). */
function relaxedSchemas(): Record<string, Schema> {
  const schemas = nullableAsJsonSchema(fixture.components.schemas) as Record<string, Schema>;
  const props = (name: string) => (schemas[name] as { properties: Record<string, Schema> }).properties;
  // The spec's size enums predate gpt-image-2, which makes any WIDTHxHEIGHT (multiples of 16 up to 3840x2160;
  // the spec's own CreateImageRequest.size says so). Events may still say "auto" for the size asked for.
  const anySize = { type: "string", pattern: "^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$" };
  props("ImagesResponse").size = { ...props("ImagesResponse").size, enum: undefined, ...anySize };
  // Its quality enums predate gpt-image-2.5 and 2.6, which add xhigh and max (openai-node 7.x lists them).
  const higher = (s: Schema | undefined) => ({
    ...s,
    enum: [...((s?.enum as string[]) ?? []), "xhigh", "max"],
  });
  props("ImagesResponse").quality = higher(props("ImagesResponse").quality);
  for (const event of [
    "ImageGenPartialImageEvent",
    "ImageGenCompletedEvent",
    "ImageEditPartialImageEvent",
    "ImageEditCompletedEvent",
  ]) {
    const p = props(event);
    p.size = { anyOf: [anySize, { const: "auto" }], description: p.size?.description };
    p.quality = higher(p.quality);
  }
  // JSON.stringify drops the `enum: undefined` left above.
  return JSON.parse(JSON.stringify(schemas)) as Record<string, Schema>;
}

// Unknown keywords are errors (a misspelt keyword would check nothing); the spec's own idioms (required names that
// live in another branch, unions of types) are not.
const ajv = new Ajv2020({
  strictSchema: true,
  strictNumbers: true,
  strictTypes: false,
  strictTuples: false,
  strictRequired: false,
  allErrors: true,
});
addFormats.default(ajv);
// OpenAPI's and OpenAI's annotations, and `components`, where the schemas' $refs point: known, and ignored.
ajv.addVocabulary([
  "components",
  "example",
  "discriminator",
  "x-oaiMeta",
  "x-oaiTypeLabel",
  "x-stainless-const",
]);
// OpenAPI's formats without a JSON Schema meaning: Unix seconds, and uploads.
ajv.addFormat("unixtime", { type: "number", validate: (n: number) => Number.isInteger(n) && n >= 0 });
ajv.addFormat("binary", true);
ajv.addSchema({ $id: "openai-images", components: { schemas: relaxedSchemas() } });

const compiled = new Map<string, ValidateFunction>();
const validator = (name: string): ValidateFunction => {
  let v = compiled.get(name);
  if (!v) {
    v = ajv.compile({ $ref: `openai-images#/components/schemas/${name}` });
    compiled.set(name, v);
  }
  return v;
};

const describe = (errors: ErrorObject[] | null | undefined) =>
  (errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`);

/** The commit of openai/openai-openapi the schemas come from. */
export const openaiSpecCommit = fixture.source.commit;

/** Why `value` is not a valid `schema` (a name in the fixture); empty when it is. */
export function schemaProblems(schema: string, value: unknown): string[] {
  const validate = validator(schema);
  return validate(value) ? [] : describe(validate.errors);
}

function check(schema: string, value: unknown, what: string): void {
  const problems = schemaProblems(schema, value);
  if (problems.length > 0) {
    throw new Error(
      `${what} does not conform to OpenAI's ${schema} (openai-openapi ${openaiSpecCommit.slice(0, 7)}):\n  ${problems.join("\n  ")}\n${JSON.stringify(value, truncate).slice(0, 2000)}`,
    );
  }
}

/** Base64 cut short in messages. */
const truncate = (_: string, v: unknown) =>
  typeof v === "string" && v.length > 200 ? `${v.slice(0, 60)}…(${v.length} chars)` : v;

/** Throws unless `body` is an ImagesResponse as OpenAI's spec has it. */
export function assertImagesResponse(body: unknown, what = "The response"): void {
  check("ImagesResponse", body, what);
}

/** Throws unless `body` is OpenAI's error envelope. */
export function assertErrorResponse(body: unknown, what = "The error"): void {
  check("ErrorResponse", body, what);
}

const eventSchemas: Record<string, string> = {
  "image_generation.partial_image": "ImageGenPartialImageEvent",
  "image_generation.completed": "ImageGenCompletedEvent",
  "image_edit.partial_image": "ImageEditPartialImageEvent",
  "image_edit.completed": "ImageEditCompletedEvent",
};

/**
 * Throws unless `event` (one SSE frame's `data`, parsed) is one of OpenAI's Images stream events, checked against
 * the schema its `type` names. `sseEvent`, the frame's `event:` line, must agree with `type` when given.
 */
export function assertImageStreamEvent(event: unknown, sseEvent?: string): void {
  const type = (event as { type?: unknown } | null)?.type;
  const schema = typeof type === "string" ? eventSchemas[type] : undefined;
  if (!schema) throw new Error(`Not an Images stream event type: ${JSON.stringify(type)}`);
  if (sseEvent !== undefined && sseEvent !== type) {
    throw new Error(`The SSE frame says event: ${sseEvent}, its data says type: ${String(type)}`);
  }
  check(schema, event, `The ${type} event`);
}

/** The Images endpoints whose answers are checked: OpenAI's three, as this service serves them under /v1. */
export const isImagesPath = (path: string) => /\/v1\/images\/(generations|edits|variations)(\?|$)/.test(path);

/**
 * Checks one HTTP answer of an Images endpoint: a JSON success is an ImagesResponse, a JSON error OpenAI's
 * envelope, an event stream a sequence of Images stream events. Other answers (HEAD, empty) pass.
 */
export function assertImagesAnswer(status: number, contentType: string, text: string, what: string): void {
  if (text === "") return;
  if (contentType.startsWith("text/event-stream")) {
    for (const frame of parseSse(text)) {
      // A job that fails once its stream has begun ends it with an `error` frame in OpenAI's envelope.
      if (frame.event === "error") assertErrorResponse(JSON.parse(frame.data), what);
      else assertImageStreamEvent(JSON.parse(frame.data), frame.event);
    }
    return;
  }
  if (!contentType.includes("json")) return;
  const body: unknown = JSON.parse(text);
  if (status >= 200 && status < 300) assertImagesResponse(body, what);
  else assertErrorResponse(body, what);
}

/** Server-Sent Events frames of a whole body: the `event:`, `id:` and joined `data:` lines of each. */
export function parseSse(text: string): { event?: string; id?: string; data: string }[] {
  const frames: { event?: string; id?: string; data: string }[] = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    let event: string | undefined;
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("id:")) id = line.slice(3).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    if (data.length > 0)
      frames.push({
        ...(event !== undefined && { event }),
        ...(id !== undefined && { id }),
        data: data.join("\n"),
      });
  }
  return frames;
}
