import type * as z from "zod/mini";
import type { FormShape } from "../form.ts";
import type { responseSchemas } from "./responses.ts";

// How a route describes itself for the API reference (/openapi.json, /docs). Types only: what a route declares
// costs the API bundle a few strings; the zod response schemas and the JSON Schema conversion are loaded by the
// generator alone (lib/api/reference/document.ts), which the deployed bundle runs at bundle time.

/** Groups of operations, in the order the reference lists them. */
export const tags = {
  Images: "OpenAI-compatible image endpoints: submit, wait (bounded) and answer as OpenAI does.",
  Jobs: "The asynchronous face of the same work: submit, poll, list, cancel; webhooks and deadlines.",
  Uploads: "Images of any size up to the per-image limit, PUT straight to storage, then named by upload_id.",
  Models: "What this deployment serves, and what each model can do.",
  Webhooks: "The signing secret of job webhooks, and endpoints disabled after 410 Gone.",
  Admin: "The operator's API (admin key only): tenant keys and usage.",
  Backendless:
    "Backendless's OpenAI Image Service (createImage, createImageEdit, createImageVariation) for clients moving over: change the host, add the key. Errors are {code, message}.",
  VisionStudio:
    "Vision Studio's GPT Image API under /api/v1/openai: generate, edit and inpaint (with a mask, or the border only). Answers {success, data} or {success: false, message}.",
  AIGNEHub:
    "AIGNE Hub's /api/images/generations: generations, and edits when image is given. Its default model, dall-e-2, and dall-e-3 are retired: they are served by their catalog replacement. Errors are {error: {message, type, code}}.",
  Health: "Liveness.",
} as const;
export type Tag = keyof typeof tags;

/** Request headers an operation honours, beside authentication. `Idempotency-Key` follows `Route.idempotent`. */
export const requestHeaders = {
  Prefer: "`wait=N` (RFC 7240): wait up to N seconds (bounded by the deployment) for the job to finish.",
  "Cancel-After":
    "A duration (90, 90s, 5m, 1h30m; 1 s to 7 days) after which an unfinished job is canceled; `deadline` as a header.",
  "Last-Event-ID":
    "The id of the last event received (EventSource sends it when it reconnects): the stream goes on after it.",
  "Idempotency-Key":
    "Up to 255 printable ASCII characters. A retry with the same key and request replays the first response for 24 hours; another request with the same key is a 422.",
} as const;
export type RequestHeader = keyof typeof requestHeaders;

/** Named response schemas (lib/api/reference/responses.ts), or none for a response without a body. */
export type ResponseSchema = keyof typeof responseSchemas;

export interface ResponseDoc {
  description: string;
  /** The JSON body (application/json); absent for a response with no body or an event stream alone. */
  schema?: ResponseSchema;
  /** The response may be Server-Sent Events (text/event-stream) instead, each event's data matching this. */
  events?: ResponseSchema;
  /** Response headers worth knowing: name → what it says. */
  headers?: Record<string, string>;
}

export interface OperationDoc {
  /** Unique; OpenAI's own where the route is OpenAI's (createImage, listModels), for generated clients. */
  operationId: string;
  summary: string;
  /** Markdown-free prose; the reference shows it as a paragraph. */
  description?: string;
  tag: Tag;
  /** `{name}` segments of the path: name → description. Every one must be described. */
  params?: Record<string, string>;
  /** The schema that validates the query string (an object of optional scalars). */
  query?: z.ZodMiniType;
  /**
   * The schema that validates the body. With `form`, the body may also be multipart/form-data: its file fields
   * are uploads there, and the same schema validates both (lib/api/form.ts). A list: the body is one of them;
   * a function returning one: schemas made for the reference only, so the API does not build them at cold start.
   */
  body?: {
    schema: z.ZodMiniType | readonly z.ZodMiniType[] | (() => readonly z.ZodMiniType[]);
    form?: FormShape;
    /** Image fields of `form` that take one image, not a list. */
    single?: readonly string[];
    example?: Record<string, unknown>;
  };
  headers?: readonly Exclude<RequestHeader, "Idempotency-Key">[];
  /** Success responses by status. */
  responses: Readonly<Record<number, ResponseDoc>>;
  /**
   * Error statuses particular to this operation → when they happen. The usual ones (400 for bad input, 401,
   * 403, 404 for path ids, 409/422 for idempotency, 413, 415, 429) follow from the route and need not be listed.
   */
  errors?: Readonly<Record<number, string>>;
}

/** A route that is not part of the API (the reference itself, the playground page and its assets). */
export interface ExcludedRoute {
  excluded: string;
}

export type RouteDoc = OperationDoc | ExcludedRoute;

export const isExcluded = (doc: RouteDoc): doc is ExcludedRoute => "excluded" in doc;
