import * as z from "zod/mini";

// S3 event notifications as S3 puts them in an SQS message body (event structure version 2.x), validated at the
// trust boundary. Objects stay loose (S3 adds fields over time); what the inbox relies on is checked.
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html

const s3Object = z.object({
  /** URL-encoded, with spaces as '+': decode with `decodeObjectKey`. */
  key: z.string().check(z.minLength(1), z.maxLength(3 * 1024)),
  size: z.optional(z.number().check(z.gte(0))),
  eTag: z.optional(z.string()),
  versionId: z.optional(z.string()),
  /** Orders events for one key; unique per PUT or DELETE of it. */
  sequencer: z.optional(z.string()),
});

export const s3EventRecord = z.object({
  eventVersion: z.string().check(z.regex(/^2\.\d+$/)),
  eventSource: z.literal("aws:s3"),
  awsRegion: z.string(),
  eventTime: z.iso.datetime({ offset: true }),
  /** ObjectCreated:Put, ObjectCreated:CompleteMultipartUpload, ObjectRemoved:Delete, ... */
  eventName: z.string().check(z.minLength(1)),
  s3: z.object({
    s3SchemaVersion: z.string(),
    configurationId: z.optional(z.string()),
    bucket: z.object({ name: z.string().check(z.minLength(1)), arn: z.optional(z.string()) }),
    object: s3Object,
  }),
});
export type S3EventRecord = z.infer<typeof s3EventRecord>;

/** What S3 sends once when a notification configuration is set up. It carries no object. */
export const s3TestEvent = z.object({
  Service: z.literal("Amazon S3"),
  Event: z.literal("s3:TestEvent"),
  Time: z.string(),
  Bucket: z.string(),
});

export const s3EventMessage = z.union([
  s3TestEvent,
  z.object({ Records: z.array(s3EventRecord).check(z.minLength(1), z.maxLength(100)) }),
]);
export type S3EventMessage = z.infer<typeof s3EventMessage>;

export const isTestEvent = (m: S3EventMessage): m is z.infer<typeof s3TestEvent> => "Event" in m;

/** An object key as S3 events carry it: URL-encoded, spaces as '+'. Undefined if it is not valid encoding. */
export function decodeObjectKey(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, " "));
  } catch {
    return undefined;
  }
}

/** The inverse of `decodeObjectKey`, as S3 encodes keys in events ('/' kept, spaces as '+'). */
export function encodeObjectKey(key: string): string {
  return encodeURIComponent(key).replace(/%2F/g, "/").replace(/%20/g, "+");
}

/** One ObjectCreated record, as S3 writes it; the sandbox stands in for S3 with it. */
export function objectCreatedRecord(upload: {
  bucket: string;
  key: string;
  size: number;
  eTag: string;
  versionId?: string | undefined;
  sequencer: string;
  eventTime: Date;
  region: string;
  eventName?: string;
}): S3EventRecord & Record<string, unknown> {
  return {
    eventVersion: "2.1",
    eventSource: "aws:s3",
    awsRegion: upload.region,
    eventTime: upload.eventTime.toISOString(),
    eventName: upload.eventName ?? "ObjectCreated:Put",
    userIdentity: { principalId: "AWS:SANDBOX" },
    requestParameters: { sourceIPAddress: "127.0.0.1" },
    responseElements: { "x-amz-request-id": upload.sequencer, "x-amz-id-2": "sandbox" },
    s3: {
      s3SchemaVersion: "1.0",
      configurationId: "inbox",
      bucket: {
        name: upload.bucket,
        ownerIdentity: { principalId: "SANDBOX" },
        arn: `arn:aws:s3:::${upload.bucket}`,
      } as S3EventRecord["s3"]["bucket"],
      object: {
        key: encodeObjectKey(upload.key),
        size: upload.size,
        // S3 events give the ETag without its quotes.
        eTag: upload.eTag.replace(/"/g, ""),
        ...(upload.versionId !== undefined && upload.versionId !== "null" && { versionId: upload.versionId }),
        sequencer: upload.sequencer,
      },
    },
  };
}
