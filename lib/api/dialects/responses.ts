import * as z from "zod/mini";

// What the dialects answer with, as zod schemas: the API reference's components (lib/api/reference/responses.ts
// adds them) and the checks of test/integration/api-reference.test.ts. Loaded by the reference generator and tests
// only; the routes name them.

const created = z.int().check(z.describe("Unix seconds"));

export const dialectResponseSchemas = {
  BackendlessImages: z
    .array(z.string())
    .check(z.describe("One entry per image: a presigned URL, or base64 with responseFormat b64_json.")),
  BackendlessError: z.object({
    code: z.string().check(z.describe("What went wrong, as a stable string (the service's error code).")),
    message: z.string(),
  }),
  VisionStudioImages: z.object({
    success: z.literal(true),
    data: z.object({ images: z.array(z.object({ url: z.string().check(z.describe("A presigned URL.")) })) }),
  }),
  VisionStudioError: z.object({ success: z.literal(false), message: z.string() }),
  AigneImages: z.object({
    created,
    data: z.array(
      z.object({
        url: z.optional(z.string().check(z.describe("A presigned URL, valid for an hour by default."))),
        b64_json: z.optional(
          z.string().check(z.describe("Base64 image bytes, with response_format b64_json.")),
        ),
      }),
    ),
  }),
  AigneError: z.object({
    error: z.object({ message: z.string(), type: z.string(), code: z.nullable(z.string()) }),
  }),
} satisfies Record<string, z.ZodMiniType>;
