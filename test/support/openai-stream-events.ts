import { Ajv2020 } from "ajv/dist/2020.js";

// OpenAI's Images stream events, as openai/openai-openapi (openapi.json, info.version 2.3.0) describes them:
// ImageGenPartialImageEvent, ImageGenCompletedEvent, ImageEditPartialImageEvent, ImageEditCompletedEvent and the
// ImagesUsage they carry, copied with descriptions and examples left out. The spec is MIT-licensed. Every stream
// event the streaming suites receive is checked here; the vendored fixture of the whole Images schemas replaces
// this once it lands (same function, same name).

const schemas: Record<string, { properties: Record<string, unknown>; [key: string]: unknown }> = {
  ImageGenPartialImageEvent: {
    type: "object",
    properties: {
      type: { type: "string", enum: ["image_generation.partial_image"] },
      b64_json: { type: "string" },
      created_at: { type: "integer" },
      size: { type: "string", enum: ["1024x1024", "1024x1536", "1536x1024", "auto"] },
      quality: { type: "string", enum: ["low", "medium", "high", "auto"] },
      background: { type: "string", enum: ["transparent", "opaque", "auto"] },
      output_format: { type: "string", enum: ["png", "webp", "jpeg"] },
      partial_image_index: { type: "integer" },
    },
    required: [
      "type",
      "b64_json",
      "created_at",
      "size",
      "quality",
      "background",
      "output_format",
      "partial_image_index",
    ],
  },
  ImageGenCompletedEvent: {
    type: "object",
    properties: {
      type: { type: "string", enum: ["image_generation.completed"] },
      b64_json: { type: "string" },
      created_at: { type: "integer" },
      size: { type: "string", enum: ["1024x1024", "1024x1536", "1536x1024", "auto"] },
      quality: { type: "string", enum: ["low", "medium", "high", "auto"] },
      background: { type: "string", enum: ["transparent", "opaque", "auto"] },
      output_format: { type: "string", enum: ["png", "webp", "jpeg"] },
      usage: { $ref: "#/components/schemas/ImagesUsage" },
    },
    required: ["type", "b64_json", "created_at", "size", "quality", "background", "output_format", "usage"],
  },
  ImageEditPartialImageEvent: {
    type: "object",
    properties: {
      type: { type: "string", enum: ["image_edit.partial_image"] },
      b64_json: { type: "string" },
      created_at: { type: "integer" },
      size: { type: "string", enum: ["1024x1024", "1024x1536", "1536x1024", "auto"] },
      quality: { type: "string", enum: ["low", "medium", "high", "auto"] },
      background: { type: "string", enum: ["transparent", "opaque", "auto"] },
      output_format: { type: "string", enum: ["png", "webp", "jpeg"] },
      partial_image_index: { type: "integer" },
    },
    required: [
      "type",
      "b64_json",
      "created_at",
      "size",
      "quality",
      "background",
      "output_format",
      "partial_image_index",
    ],
  },
  ImageEditCompletedEvent: {
    type: "object",
    properties: {
      type: { type: "string", enum: ["image_edit.completed"] },
      b64_json: { type: "string" },
      created_at: { type: "integer" },
      size: { type: "string", enum: ["1024x1024", "1024x1536", "1536x1024", "auto"] },
      quality: { type: "string", enum: ["low", "medium", "high", "auto"] },
      background: { type: "string", enum: ["transparent", "opaque", "auto"] },
      output_format: { type: "string", enum: ["png", "webp", "jpeg"] },
      usage: { $ref: "#/components/schemas/ImagesUsage" },
    },
    required: ["type", "b64_json", "created_at", "size", "quality", "background", "output_format", "usage"],
  },
  ImagesUsage: {
    type: "object",
    required: ["total_tokens", "input_tokens", "output_tokens", "input_tokens_details"],
    properties: {
      total_tokens: { type: "integer" },
      input_tokens: { type: "integer" },
      output_tokens: { type: "integer" },
      input_tokens_details: {
        type: "object",
        required: ["text_tokens", "image_tokens"],
        properties: { text_tokens: { type: "integer" }, image_tokens: { type: "integer" } },
      },
    },
  },
};

// The spec's size enums predate gpt-image-2, which makes any WIDTHxHEIGHT (multiples of 16 up to 3840x2160), and
// its quality enums predate gpt-image-2.5 and 2.6 (xhigh, max): only those two fields are relaxed.
for (const name of Object.keys(schemas).filter((n) => n.endsWith("Event"))) {
  const p = (schemas[name] as { properties: Record<string, unknown> }).properties;
  p.size = { anyOf: [{ type: "string", pattern: "^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$" }, { const: "auto" }] };
  p.quality = { type: "string", enum: ["low", "medium", "high", "auto", "xhigh", "max"] };
}

const ajv = new Ajv2020({ strict: true, allErrors: true });
// Where the schemas' own $refs point (#/components/schemas/ImagesUsage): a container, not a keyword to check.
ajv.addVocabulary(["components"]);
ajv.addSchema({ $id: "openai-images", components: { schemas } });
const validators = Object.fromEntries(
  Object.keys(schemas).map((name) => [
    name,
    ajv.compile({ $ref: `openai-images#/components/schemas/${name}` }),
  ]),
);

const eventSchemas: Record<string, string> = {
  "image_generation.partial_image": "ImageGenPartialImageEvent",
  "image_generation.completed": "ImageGenCompletedEvent",
  "image_edit.partial_image": "ImageEditPartialImageEvent",
  "image_edit.completed": "ImageEditCompletedEvent",
};

/**
 * Throws unless `event` (one SSE frame's data, parsed) is one of OpenAI's Images stream events, checked against
 * the schema its `type` names. `sseEvent`, the frame's `event:` line, must agree with `type` when given.
 */
export function assertImageStreamEvent(event: unknown, sseEvent?: string): void {
  const type = (event as { type?: unknown } | null)?.type;
  const schema = typeof type === "string" ? eventSchemas[type] : undefined;
  if (!schema) throw new Error(`Not an Images stream event type: ${JSON.stringify(type)}`);
  if (sseEvent !== undefined && sseEvent !== type) {
    throw new Error(`The SSE frame says event: ${sseEvent}, its data says type: ${String(type)}`);
  }
  const validate = validators[schema];
  if (validate && !validate(event)) {
    const brief = JSON.stringify(event, (_, v) =>
      typeof v === "string" && v.length > 80 ? `${v.slice(0, 20)}…` : v,
    );
    throw new Error(
      `The ${type} event does not conform to OpenAI's ${schema}: ${ajv.errorsText(validate.errors)}\n${brief}`,
    );
  }
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
