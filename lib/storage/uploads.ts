import { randomBytes } from "node:crypto";

// Uploads: image bytes a client PUTs straight to the bucket with a presigned URL (POST /v1/uploads), then names
// by upload_id wherever an image is taken. Images of any size up to MAX_IMAGE_BYTES reach the service this way,
// past Lambda's 6 MB request limit. Nothing is recorded but the object: its key holds the tenant, so another
// tenant's upload_id names an object under another prefix, which is never read for this one.

/** How long a presigned PUT stays valid: enough to send 20 MB over a slow link, short enough to be useless later. */
export const uploadUrlTtlSeconds = 15 * 60;

/** How long an upload can be used after it was made (S3 lifecycle rules count whole days). */
export const uploadRetentionDays = 1;

const crockford = "0123456789abcdefghjkmnpqrstvwxyz";

/** 130 random bits: an upload_id is unguessable, though it only ever names an object in its tenant's prefix. */
export function newUploadId(): string {
  let id = "";
  for (const byte of randomBytes(26)) id += crockford[byte % 32];
  return `upload_${id}`;
}
