import { GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";

/** The object a notification names: the version S3 reported, when the bucket keeps versions. */
export interface NotifiedObject {
  key: string;
  versionId?: string | undefined;
  eTag?: string | undefined;
  size?: number | undefined;
}

/** An inbox object's user metadata (x-amz-meta-*, as S3 returns it) and size. */
export interface InboxUpload {
  rawMetadata: Record<string, string>;
  size: number;
}

/** Where an inbox upload is: the service's bucket, and the S3 client to read it with. */
export interface InboxBucket {
  s3: S3Client;
  bucket: string;
}

// Uploads dropped under inbox/{tenant}/, read as the notification named them.

/** The object's metadata and size; "gone" when it no longer exists or no longer is the version notified. */
export async function headInboxUpload(
  { s3, bucket }: InboxBucket,
  object: NotifiedObject,
): Promise<InboxUpload | "gone"> {
  try {
    const res = await s3.send(
      new HeadObjectCommand({
        Bucket: bucket,
        Key: object.key,
        ...(object.versionId !== undefined && { VersionId: object.versionId }),
      }),
    );
    // Without versioning, the key may now hold a later upload; that one has its own notification.
    if (object.eTag !== undefined && res.ETag !== undefined && res.ETag.replace(/"/g, "") !== object.eTag) {
      return "gone";
    }
    return { rawMetadata: res.Metadata ?? {}, size: res.ContentLength ?? object.size ?? 0 };
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404 || (err instanceof Error && /^(NotFound|NoSuchKey|NoSuchVersion)$/.test(err.name))) {
      return "gone";
    }
    throw err;
  }
}

/** The object's bytes; S3's own errors propagate, so the notification is redelivered. */
export async function readInboxUpload({ s3, bucket }: InboxBucket, object: NotifiedObject): Promise<Buffer> {
  const res = await s3.send(
    new GetObjectCommand({
      Bucket: bucket,
      Key: object.key,
      ...(object.versionId !== undefined && { VersionId: object.versionId }),
    }),
  );
  if (!res.Body) throw new Error(`S3 returned no body for ${object.key}`);
  return Buffer.from(await res.Body.transformToByteArray());
}
