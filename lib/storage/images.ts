import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl as signCloudFrontUrl } from "@aws-sdk/cloudfront-signer";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { contentTypes, type ImageFormat } from "../images/types.ts";
import type { ImageStorage } from "../jobs/ports/storage.ts";
import { toStorageError } from "./errors.ts";

export interface ImageStoreOptions {
  /**
   * Larger objects go up as a multipart upload, in parts of this size. A single PUT may be 5 GB in S3, but the
   * sandbox's emulator takes at most 11 MiB per request, and parts keep each request (and its retry) small in AWS
   * too: one code path, tested where it runs. S3 wants parts of at least 5 MiB.
   */
  partBytes?: number;
  /** Generated images (tenants/...) as CloudFront signed URLs instead of presigned S3 URLs. */
  cdn?: ImageCdn | undefined;
}

/** A CloudFront distribution in front of the bucket's tenants/ prefix, and the key that signs its URLs. */
export interface ImageCdn {
  domain: string;
  keyPairId: string;
  privateKey: string;
}

/** What the distribution serves (infra/constructs/image-cdn.ts grants it tenants/ only); anything else stays a presigned S3 URL. */
const cdnPrefix = "tenants/";

/** 8 MiB: within the emulator's 11 MiB request cap and above S3's 5 MiB minimum part. */
export const defaultPartBytes = 8 * 1024 * 1024;

/** A presigned PUT: the URL, and the headers the PUT must carry because they are signed. */
export interface PresignedPut {
  url: string;
  headers: Record<string, string>;
  expiresAt: number;
}

/**
 * Images in the private bucket. URLs are presigned on read, so an expired one can always be fetched again.
 * Failures are StorageErrors that say whether a retry can help (lib/storage/errors.ts).
 */
export class ImageStore implements ImageStorage {
  readonly #s3: S3Client;
  readonly #bucket: string;
  readonly #urlTtlSeconds: number;
  readonly #partBytes: number;
  readonly #cdn: ImageCdn | undefined;

  constructor(s3: S3Client, bucket: string, urlTtlSeconds: number, options: ImageStoreOptions = {}) {
    this.#s3 = s3;
    this.#bucket = bucket;
    this.#urlTtlSeconds = urlTtlSeconds;
    this.#cdn = options.cdn;
    this.#partBytes = Math.max(5 * 1024 * 1024, options.partBytes ?? defaultPartBytes);
  }

  get urlTtlSeconds(): number {
    return this.#urlTtlSeconds;
  }

  /**
   * `sha256` (hex) is the body's digest, already computed by the caller. A single PUT sends it as the object's
   * checksum, which S3 verifies, and reuses it as SigV4's payload hash: otherwise the SDK hashes every image twice
   * more (CRC32 for its default checksum, SHA-256 to sign), about 1.5 ms per 1.7 MB image. A multipart upload
   * checksums each part (CRC32, the SDK's default) and keeps the digest in the metadata.
   */
  async put(key: string, body: Buffer, format: ImageFormat, sha256: string): Promise<void> {
    const params = {
      Bucket: this.#bucket,
      Key: key,
      Body: body,
      ContentType: contentTypes[format],
      CacheControl: "private, max-age=31536000, immutable",
      Metadata: { sha256 },
    };
    try {
      if (body.length > this.#partBytes) {
        // Parts go up four at a time; a failed upload is aborted, so no parts are left behind (and the
        // bucket's abort-incomplete-uploads rule clears what a crash leaves).
        await new Upload({ client: this.#s3, params, partSize: this.#partBytes, queueSize: 4 }).done();
        return;
      }
      const command = new PutObjectCommand({
        ...params,
        ContentLength: body.length,
        ChecksumSHA256: Buffer.from(sha256, "hex").toString("base64"),
      });
      command.middlewareStack.add(
        (next) => (args) => {
          const request = args.request as { headers?: Record<string, string> } | undefined;
          if (request?.headers) request.headers["x-amz-content-sha256"] = sha256;
          return next(args);
        },
        { step: "build", name: "reusePayloadSha256" },
      );
      await this.#s3.send(command);
    } catch (err) {
      throw toStorageError(err, `Could not store ${body.length} bytes`);
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      const res = await this.#s3.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }));
      if (!res.Body) throw new Error(`S3 returned no body for ${key}`);
      const bytes = await res.Body.transformToByteArray();
      // A view, not a copy: images are megabytes.
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (err) {
      throw toStorageError(err, "Could not read an image");
    }
  }

  /** Server-side copy; the same `to` for the same job, so a redelivered job overwrites its own copy. */
  async copy(from: string, to: string): Promise<void> {
    try {
      await this.#s3.send(
        new CopyObjectCommand({
          Bucket: this.#bucket,
          Key: to,
          CopySource: `${this.#bucket}/${encodeURIComponent(from).replace(/%2F/g, "/")}`,
          MetadataDirective: "COPY",
        }),
      );
    } catch (err) {
      throw toStorageError(err, "Could not copy an image");
    }
  }

  /** Removes objects a discarded result left behind (a job canceled while its images were being stored). */
  async delete(keys: readonly string[]): Promise<void> {
    await Promise.all(
      keys.map((Key) => this.#s3.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key }))),
    );
  }

  async url(key: string, now = Date.now()): Promise<string> {
    const cdn = this.#cdn;
    if (cdn && key.startsWith(cdnPrefix)) {
      // A canned policy: this object, until the same expiry a presigned URL would have.
      const path = key.split("/").map(encodeURIComponent).join("/");
      return signCloudFrontUrl({
        url: `https://${cdn.domain}/${path}`,
        keyPairId: cdn.keyPairId,
        privateKey: cdn.privateKey,
        dateLessThan: new Date(now + this.#urlTtlSeconds * 1000).toISOString(),
      });
    }
    return getSignedUrl(this.#s3, new GetObjectCommand({ Bucket: this.#bucket, Key: key }), {
      expiresIn: this.#urlTtlSeconds,
    });
  }

  /**
   * A PUT of exactly `bytes` bytes to `key`, valid for `ttlSeconds`. Content-Length is a signed header: S3
   * refuses a PUT of any other length (SignatureDoesNotMatch), so the size was capped when the URL was made.
   * A presigned POST could state a range instead (content-length-range), but needs a multipart form, where a
   * PUT is one request any HTTP client (curl -T, fetch) makes with the file as its body.
   */
  async presignPut(key: string, bytes: number, ttlSeconds: number, now = Date.now()): Promise<PresignedPut> {
    const command = new PutObjectCommand({ Bucket: this.#bucket, Key: key, ContentLength: bytes });
    // The SDK adds a checksum of the request's (empty) body, hoisted into the URL, which S3 would hold the
    // upload to; the client's bytes are not known here, so no checksum is signed.
    // Low priority: it runs after the build step's checksum middleware has added its headers.
    command.middlewareStack.add(
      (next) => (args) => {
        const request = args.request as { headers?: Record<string, string> } | undefined;
        for (const name of Object.keys(request?.headers ?? {})) {
          if (/^x-amz-(checksum-|sdk-checksum-algorithm)/i.test(name)) delete request?.headers?.[name];
        }
        return next(args);
      },
      { step: "build", priority: "low", name: "presignWithoutChecksum" },
    );
    const url = await getSignedUrl(this.#s3, command, { expiresIn: ttlSeconds, signingDate: new Date(now) });
    return { url, headers: { "content-length": String(bytes) }, expiresAt: now + ttlSeconds * 1000 };
  }
}
