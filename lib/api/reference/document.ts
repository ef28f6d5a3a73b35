import { readFileSync } from "node:fs";
import * as z from "zod/mini";
import { idempotencyKeyHeader } from "../idempotency.ts";
import type { Route } from "../router.ts";
import { isExcluded, type OperationDoc, type RequestHeader, requestHeaders, tags } from "./operation.ts";
import { errorEnvelope, responseSchemas } from "./responses.ts";

// The OpenAPI 3.1 document, generated from the routes the router serves: request schemas are the zod schemas
// that validate requests, converted by zod's own toJSONSchema; responses are the zod schemas of
// lib/api/reference/responses.ts. Nothing here is kept by hand beside the code it describes.

export type JsonSchema = { [key: string]: unknown };
export type OpenApiDocument = JsonSchema & {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, JsonSchema> } & JsonSchema;
  /** Path prefixes whose errors, unknown paths included, take another service's shape (lib/api/router.ts). */
  "x-error-shapes"?: { prefix: string; schema: JsonSchema }[];
};
export type Operation = JsonSchema & {
  operationId: string;
  summary: string;
  tags: string[];
  responses: Record<string, JsonSchema>;
};

const schemaRef = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** Request headers whose values the API validates, by the schemas that validate them; others are strings. */
const headerSchemas: Partial<Record<RequestHeader, z.ZodMiniType>> = {
  "Idempotency-Key": idempotencyKeyHeader,
};

/** A zod schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), without its `$schema`, for embedding. */
export function jsonSchemaOf(schema: z.ZodMiniType, io: "input" | "output"): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, {
    target: "draft-2020-12",
    io,
    // z.unknown() (images, which imageRef checks) and refinements have no JSON Schema: they allow anything.
    unrepresentable: "any",
  }) as JsonSchema;
  return rest;
}

const imageReference = {
  anyOf: [
    {
      type: "string",
      description: "An http(s) URL, a data URL, base64 image data, or an upload_id of POST /v1/uploads.",
    },
    {
      type: "object",
      description: "An image PUT to the URL of POST /v1/uploads.",
      properties: { upload_id: { type: "string", pattern: "^upload_[0-9a-hjkmnp-tv-z]{26}$" } },
      required: ["upload_id"],
      additionalProperties: false,
    },
    {
      type: "object",
      description: "An earlier job's output image.",
      properties: { job_id: { type: "string" }, index: { type: "integer", minimum: 0, default: 0 } },
      required: ["job_id"],
      additionalProperties: false,
    },
  ],
};
const imageFile = {
  type: "string",
  format: "binary",
  contentMediaType: "application/octet-stream",
  description:
    "A PNG, JPEG or WebP file, or a URL, data URL, base64 image data or upload_id as a text field.",
};
const oneOrMany = (item: JsonSchema) => ({ anyOf: [item, { type: "array", items: item, minItems: 1 }] });

/** Image fields are `z.unknown()` to zod (imageRef checks them); say what they take, in JSON and in multipart. */
function withImageFields(
  schema: JsonSchema,
  body: NonNullable<OperationDoc["body"]>,
  item: JsonSchema,
): JsonSchema {
  if (Array.isArray(schema.anyOf)) {
    return { ...schema, anyOf: schema.anyOf.map((s: JsonSchema) => withImageFields(s, body, item)) };
  }
  const properties = { ...(schema.properties as Record<string, JsonSchema>) };
  for (const name of body.form?.files ?? []) {
    if (name in properties) properties[name] = body.single?.includes(name) ? item : oneOrMany(item);
  }
  return { ...schema, properties };
}

const pascal = (id: string) => id.charAt(0).toUpperCase() + id.slice(1);

function bodySchema(body: NonNullable<OperationDoc["body"]>): JsonSchema {
  const schemas =
    typeof body.schema === "function"
      ? body.schema()
      : Array.isArray(body.schema)
        ? body.schema
        : [body.schema as z.ZodMiniType];
  const converted = schemas.map((s) => jsonSchemaOf(s, "input"));
  return converted.length === 1 ? (converted[0] as JsonSchema) : { anyOf: converted };
}

/** The errors every operation like this one can answer, beside those it lists itself. */
function errorStatuses(route: Route, doc: OperationDoc): Record<number, string> {
  const errors: Record<number, string> = {};
  if (doc.body || doc.query || doc.params) {
    errors[400] = route.errorShape
      ? "Invalid request: the message names the parameter at fault."
      : "Invalid request: error.param names the parameter at fault.";
  }
  if (!route.public) {
    errors[401] = route.admin ? "Missing or invalid admin key." : "Missing or invalid API key.";
    errors[403] = route.admin
      ? "A tenant key: admin routes take the admin key only."
      : "The admin key: it is for /admin only.";
  }
  // Another tenant's resource is as absent as one that never existed.
  if (doc.params) errors[404] = "Not found.";
  if (route.idempotent) {
    errors[409] = "A request with the same Idempotency-Key is still in progress.";
    errors[422] = "The Idempotency-Key was used with a different request.";
  }
  if (doc.body) {
    errors[413] = "The body is larger than the request limit.";
    errors[415] = doc.body.form
      ? "The body is neither JSON nor multipart/form-data."
      : "The body is not JSON (Content-Type: application/json).";
  }
  if (!route.public && !route.admin) {
    errors[429] =
      "A limit of the key (requests per minute, concurrent jobs, images per day); see Retry-After.";
  }
  for (const [status, why] of Object.entries(doc.errors ?? {})) {
    const known = errors[Number(status)];
    errors[Number(status)] = known ? `${known} Or: ${why}` : why;
  }
  return errors;
}

function parameters(route: Route, doc: OperationDoc): JsonSchema[] {
  const out: JsonSchema[] = [];
  const names = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
  const described = Object.keys(doc.params ?? {});
  if (names.join() !== described.join()) {
    throw new Error(
      `${route.method} ${route.path}: params must describe exactly ${names.join(", ") || "none"}.`,
    );
  }
  for (const name of names) {
    // An empty segment matches no route (lib/api/router.ts): "/v1/jobs/" is a 404, not a job with no id.
    out.push({
      name,
      in: "path",
      required: true,
      description: doc.params?.[name],
      schema: { type: "string", minLength: 1 },
    });
  }
  if (doc.query) {
    const query = jsonSchemaOf(doc.query, "input");
    const required = new Set((query.required as string[] | undefined) ?? []);
    for (const [name, schema] of Object.entries((query.properties ?? {}) as Record<string, JsonSchema>)) {
      const { description, ...rest } = schema;
      out.push({
        name,
        in: "query",
        required: required.has(name),
        ...(description !== undefined && { description }),
        schema: rest,
      });
    }
  }
  const headers = [...(doc.headers ?? []), ...(route.idempotent ? (["Idempotency-Key"] as const) : [])];
  for (const name of headers) {
    out.push({
      name,
      in: "header",
      required: false,
      description: requestHeaders[name],
      schema: headerSchemas[name] ? jsonSchemaOf(headerSchemas[name], "input") : { type: "string" },
    });
  }
  return out;
}

function operation(route: Route, doc: OperationDoc, components: Record<string, JsonSchema>): Operation {
  const op: Operation = {
    operationId: doc.operationId,
    summary: doc.summary,
    ...(doc.description !== undefined && { description: doc.description }),
    tags: [doc.tag],
    responses: {},
  };
  const params = parameters(route, doc);
  if (params.length > 0) op.parameters = params;
  if (doc.body) {
    const name = `${pascal(doc.operationId)}Request`;
    const schema = bodySchema(doc.body);
    const form = doc.body.form;
    components[name] = form ? withImageFields(schema, doc.body, imageReference) : schema;
    const content: JsonSchema = {
      "application/json": {
        schema: schemaRef(name),
        ...(doc.body.example !== undefined && { example: doc.body.example }),
      },
    };
    if (form) content["multipart/form-data"] = { schema: withImageFields(schema, doc.body, imageFile) };
    op.requestBody = { required: true, content };
  }
  if (route.public) op.security = [];
  else if (route.admin) op.security = [{ adminKey: [] }];
  for (const [status, res] of Object.entries(doc.responses)) {
    const content = {
      ...(res.schema && { "application/json": { schema: schemaRef(res.schema) } }),
      ...(res.events && { "text/event-stream": { schema: schemaRef(res.events) } }),
    };
    op.responses[status] = {
      description: res.description,
      ...(res.headers && {
        headers: Object.fromEntries(
          Object.entries(res.headers).map(([h, d]) => [h, { description: d, schema: { type: "string" } }]),
        ),
      }),
      ...(Object.keys(content).length > 0 && { content }),
    };
  }
  // Another service's API answers errors in that service's shape (lib/api/router.ts ErrorShape).
  const errorContent = { "application/json": { schema: schemaRef(route.errorShape?.schema ?? "Error") } };
  for (const [status, description] of Object.entries(errorStatuses(route, doc))) {
    op.responses[status] = { description, content: errorContent };
  }
  op.responses.default = route.errorShape
    ? { description: "An error, in this API's own shape.", content: errorContent }
    : { $ref: "#/components/responses/Error" };
  return op;
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

/** The OpenAPI 3.1 document of `routes`; routes marked excluded are left out. */
export function buildOpenApiDocument(routes: readonly Route[]): OpenApiDocument {
  const schemas: Record<string, JsonSchema> = { Error: jsonSchemaOf(errorEnvelope, "output") };
  for (const [name, schema] of Object.entries(responseSchemas))
    schemas[name] = jsonSchemaOf(schema, "output");
  const paths: OpenApiDocument["paths"] = {};
  const used = new Set<string>();
  for (const route of routes) {
    if (isExcluded(route.doc)) continue;
    const doc = route.doc;
    used.add(doc.tag);
    const item = paths[route.path] ?? {};
    item[route.method.toLowerCase()] = operation(route, doc, schemas);
    paths[route.path] = item;
  }
  return {
    openapi: "3.1.1",
    info: {
      title: "image-jobs",
      version: packageVersion(),
      summary: "OpenAI-compatible image generation and editing, as jobs.",
      description:
        "The /v1/images endpoints take OpenAI's requests and answer as OpenAI does, so OpenAI's SDKs work with a changed base URL. /v1/jobs is the same work without waiting. Errors use OpenAI's envelope. Paths match exactly, as listed: a trailing slash or an empty path parameter (GET /v1/jobs/) is a 404 with code unknown_url.",
      license: { name: "MIT", identifier: "MIT" },
    },
    // Relative: the document is served by the deployment it describes; clients set their own base URL.
    servers: [{ url: "/", description: "This deployment" }],
    tags: Object.entries(tags)
      .filter(([name]) => used.has(name))
      .map(([name, description]) => ({ name, description })),
    security: [{ bearerAuth: [] }, { apiKeyHeader: [] }],
    paths,
    // No OpenAPI keyword says how a path that matches no operation answers: this extension does, for the other
    // services' APIs, whose every error under their prefix (an unknown path too) takes their shape.
    "x-error-shapes": [...new Set(routes.flatMap((r) => (r.errorShape ? [r.errorShape] : [])))].map((s) => ({
      prefix: s.prefix,
      schema: schemaRef(s.schema),
    })),
    components: {
      schemas,
      responses: {
        Error: {
          description: "An error, in OpenAI's envelope.",
          content: { "application/json": { schema: schemaRef("Error") } },
        },
      },
      securitySchemes: {
        bearerAuth: {
          type: "http",
          scheme: "bearer",
          description: "A tenant key (POST /admin/keys, or npm run create-key): Authorization: Bearer <key>.",
        },
        apiKeyHeader: {
          type: "apiKey",
          in: "header",
          name: "X-API-Key",
          description: "A tenant key, as X-API-Key.",
        },
        adminKey: {
          type: "http",
          scheme: "bearer",
          description:
            "The deployment's ADMIN_API_KEY: Authorization: Bearer <admin key>. Admin routes only.",
        },
      },
    },
  };
}
