import * as z from "zod/mini";
import { uploadKey } from "../../layout/keys.ts";
import { newUploadId, uploadRetentionDays, uploadUrlTtlSeconds } from "../../storage/uploads.ts";
import { parseRequest } from "../../validation.ts";
import { jsonBody } from "../http.ts";
import type { Route } from "../router.ts";
import type { RouteDeps } from "./deps.ts";

// POST /v1/uploads: a presigned PUT for one image, so images larger than a request may carry (Lambda takes
// 6 MB, about 4.4 MB of image as base64) go straight to the bucket. The upload_id it answers with is then given
// wherever an image is taken: `image`, `images[]` or `mask` of the image endpoints (JSON, or a multipart text
// field), and a job's `input`. A variation of an upload is one more call: POST /v1/jobs (or
// /v1/images/variations) with the upload_id, which answers with the job at once.

export const uploadRequest = z.strictObject({
  bytes: z
    .int()
    .check(
      z.gte(1),
      z.describe("The exact size of the image to PUT, in bytes; at most the deployment's MAX_IMAGE_BYTES."),
    ),
});

const unix = (ms: number) => Math.floor(ms / 1000);

export const uploadRoutes = (deps: RouteDeps): Route[] => [
  {
    method: "POST",
    path: "/v1/uploads",
    doc: {
      operationId: "createUpload",
      summary: "Upload an image by presigned URL",
      description:
        "Answers with a URL valid for 15 minutes: PUT the image's bytes there, with the answer's headers (Content-Length is signed, so S3 refuses any other size). Then give the upload_id as an image (a string, or {\"upload_id\"}) to /v1/images/edits, /v1/images/variations or /v1/jobs, for a day. Another key's tenant cannot use it.",
      tag: "Uploads",
      body: { schema: uploadRequest, example: { bytes: 7340032 } },
      responses: { 201: { description: "Where to PUT the image.", schema: "Upload" } },
    },
    handle: async (ctx) => {
      const body = parseRequest(uploadRequest, jsonBody(ctx.req));
      deps.sources.checkSize(body.bytes, "bytes");
      const id = newUploadId();
      const now = Date.now();
      const put = await deps.images.presignPut(
        uploadKey(ctx.principal.tenant, id),
        body.bytes,
        uploadUrlTtlSeconds,
        now,
      );
      return {
        status: 201,
        // The URL is a credential for one PUT: no cache keeps it.
        headers: { "cache-control": "no-store" },
        body: {
          id,
          object: "upload",
          bytes: body.bytes,
          created_at: unix(now),
          upload_url: put.url,
          method: "PUT",
          headers: put.headers,
          expires_at: unix(put.expiresAt),
          usable_until: unix(now + uploadRetentionDays * 86_400_000),
        },
      };
    },
  },
];
