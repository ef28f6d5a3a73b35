import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { contentTypes } from "../images/formats.ts";
import type { ImageFormat } from "../providers/catalog.ts";

/** Deterministic keys: a redelivered job overwrites its own objects instead of adding new ones. */
export function outputKey(tenant: string, jobId: string, index: number, format: ImageFormat): string {
  return `tenants/${tenant}/jobs/${jobId}/output-${index}.${format === "jpeg" ? "jpg" : format}`;
}

/** Images in the private bucket. URLs are presigned on read, so an expired one can always be fetched again. */
export class ImageStore {
  readonly #s3: S3Client;
  readonly #bucket: string;
  readonly #urlTtlSeconds: number;

  constructor(s3: S3Client, bucket: string, urlTtlSeconds: number) {
    this.#s3 = s3;
    this.#bucket = bucket;
    this.#urlTtlSeconds = urlTtlSeconds;
  }

  get urlTtlSeconds(): number {
    return this.#urlTtlSeconds;
  }

  async put(key: string, body: Buffer, format: ImageFormat, sha256: string): Promise<void> {
    await this.#s3.send(
      new PutObjectCommand({
        Bucket: this.#bucket,
        Key: key,
        Body: body,
        ContentType: contentTypes[format],
        ContentLength: body.length,
        CacheControl: "private, max-age=31536000, immutable",
        Metadata: { sha256 },
      }),
    );
  }

  async get(key: string): Promise<Buffer> {
    const res = await this.#s3.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }));
    if (!res.Body) throw new Error(`S3 returned no body for ${key}`);
    return Buffer.from(await res.Body.transformToByteArray());
  }

  /** Removes objects a discarded result left behind (a job canceled while its images were being stored). */
  async delete(keys: readonly string[]): Promise<void> {
    await Promise.all(
      keys.map((Key) => this.#s3.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key }))),
    );
  }

  async url(key: string): Promise<string> {
    return getSignedUrl(this.#s3, new GetObjectCommand({ Bucket: this.#bucket, Key: key }), {
      expiresIn: this.#urlTtlSeconds,
    });
  }
}
