import { createHash, createHmac } from "node:crypto";

// A SigV4 query-signature check written from AWS's specification, independent of the SDK that signed: S3
// recomputes the signature over the request it receives, and refuses the request when they differ. The sandbox's
// emulator checks no signatures, so tests ask this what S3 would say.

const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();
const hex = (data: string) => createHash("sha256").update(data).digest("hex");
// RFC 3986: encodeURIComponent leaves !'()* alone, SigV4 escapes them.
const encode = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * Whether S3 would accept `method` on the presigned `url` with these request headers (lower-case names; host is
 * taken from the URL), signed by `secretAccessKey`.
 */
export function presignedRequestValid(
  url: string,
  method: string,
  headers: Record<string, string>,
  secretAccessKey: string,
): boolean {
  const u = new URL(url);
  const q = u.searchParams;
  const signedHeaders = (q.get("X-Amz-SignedHeaders") ?? "").split(";");
  const all: Record<string, string> = { ...headers, host: u.host };
  const canonicalHeaders = signedHeaders.map((h) => `${h}:${(all[h] ?? "").trim()}\n`).join("");
  const query = [...q.entries()]
    .filter(([k]) => k !== "X-Amz-Signature")
    .map(([k, v]) => [encode(k), encode(v)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonical = [
    method,
    u.pathname,
    query,
    canonicalHeaders,
    signedHeaders.join(";"),
    q.get("X-Amz-Content-Sha256") ?? "UNSIGNED-PAYLOAD",
  ].join("\n");
  const [, date, region, service] = (q.get("X-Amz-Credential") ?? "").split("/");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", q.get("X-Amz-Date"), scope, hex(canonical)].join("\n");
  let key = hmac(`AWS4${secretAccessKey}`, date ?? "");
  for (const part of [region ?? "", service ?? "", "aws4_request"]) key = hmac(key, part);
  return hmac(key, toSign).toString("hex") === q.get("X-Amz-Signature");
}
