// A JSON Schema 2020-12 checker for the keywords the API's document uses, so tests can ask "does the document
// accept this body?" without a validator dependency. An unknown keyword fails loudly rather than passing quietly.
// Formats are annotations, as 2020-12 has them by default; descriptions, defaults and examples are ignored.

type Schema = { [key: string]: unknown } | boolean;

const annotations = new Set([
  "description",
  "title",
  "default",
  "examples",
  "example",
  "format",
  "contentMediaType",
  "contentEncoding",
  "$schema",
  "$id",
]);
const known = new Set([
  ...annotations,
  "$ref",
  "type",
  "enum",
  "const",
  "properties",
  "required",
  "additionalProperties",
  "propertyNames",
  "items",
  "minItems",
  "maxItems",
  "minLength",
  "maxLength",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "multipleOf",
  "pattern",
  "anyOf",
  "oneOf",
  "allOf",
]);

const typeOf = (v: unknown): string =>
  v === null ? "null" : Array.isArray(v) ? "array" : typeof v === "number" ? "number" : typeof v;

const deepEqual = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Whether `value` is valid against `schema`; `$ref`s resolve against `root` (`#/...` pointers only). */
export function jsonSchemaAccepts(schema: Schema, value: unknown, root: unknown = schema): boolean {
  if (schema === true) return true;
  if (schema === false) return false;
  for (const key of Object.keys(schema)) {
    if (!known.has(key)) throw new Error(`json-schema.ts does not know the keyword '${key}'`);
  }
  const s = schema as Record<string, unknown>;
  const sub = (x: unknown, v: unknown) => jsonSchemaAccepts(x as Schema, v, root);
  if (typeof s.$ref === "string") {
    if (!s.$ref.startsWith("#/")) throw new Error(`Unsupported $ref ${s.$ref}`);
    let target: unknown = root;
    for (const part of s.$ref.slice(2).split("/")) target = (target as Record<string, unknown>)?.[part];
    if (target === undefined) throw new Error(`Unresolved $ref ${s.$ref}`);
    if (!sub(target, value)) return false;
  }
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? s.type : [s.type];
    const t = typeOf(value);
    const ok = types.some(
      (want) => want === t || (want === "integer" && t === "number" && Number.isInteger(value as number)),
    );
    if (!ok) return false;
  }
  if (Array.isArray(s.enum) && !s.enum.some((e) => deepEqual(e, value))) return false;
  if ("const" in s && !deepEqual(s.const, value)) return false;
  if (typeof value === "string") {
    const length = [...value].length;
    if (typeof s.minLength === "number" && length < s.minLength) return false;
    if (typeof s.maxLength === "number" && length > s.maxLength) return false;
    if (typeof s.pattern === "string" && !new RegExp(s.pattern).test(value)) return false;
  }
  if (typeof value === "number") {
    if (typeof s.minimum === "number" && value < s.minimum) return false;
    if (typeof s.maximum === "number" && value > s.maximum) return false;
    if (typeof s.exclusiveMinimum === "number" && value <= s.exclusiveMinimum) return false;
    if (typeof s.exclusiveMaximum === "number" && value >= s.exclusiveMaximum) return false;
    if (typeof s.multipleOf === "number" && !Number.isInteger(value / s.multipleOf)) return false;
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === "number" && value.length < s.minItems) return false;
    if (typeof s.maxItems === "number" && value.length > s.maxItems) return false;
    if (s.items !== undefined && !value.every((v) => sub(s.items, v))) return false;
  }
  if (typeOf(value) === "object") {
    const obj = value as Record<string, unknown>;
    const props = (s.properties ?? {}) as Record<string, Schema>;
    for (const name of (s.required as string[] | undefined) ?? []) if (!(name in obj)) return false;
    for (const [name, v] of Object.entries(obj)) {
      if (s.propertyNames !== undefined && !sub(s.propertyNames, name)) return false;
      if (name in props) {
        if (!sub(props[name], v)) return false;
      } else if (s.additionalProperties !== undefined && !sub(s.additionalProperties, v)) return false;
    }
  }
  if (Array.isArray(s.allOf) && !s.allOf.every((x) => sub(x, value))) return false;
  if (Array.isArray(s.anyOf) && !s.anyOf.some((x) => sub(x, value))) return false;
  if (Array.isArray(s.oneOf) && s.oneOf.filter((x) => sub(x, value)).length !== 1) return false;
  return true;
}
