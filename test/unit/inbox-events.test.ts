import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeObjectKey,
  encodeObjectKey,
  objectCreatedRecord,
  type S3EventRecord,
  s3EventMessage,
} from "../../lib/inbox/events.ts";
import { decodeMetadata, inboxJobId } from "../../lib/inbox/inbox.ts";
import { jobIdPattern } from "../../lib/jobs/model.ts";

// The S3 side of the inbox at its trust boundary: event shapes, key encoding, metadata encoding, job ids.

const record = (overrides: Partial<Parameters<typeof objectCreatedRecord>[0]> = {}): S3EventRecord =>
  objectCreatedRecord({
    bucket: "images",
    key: "inbox/acme/a.png",
    size: 10,
    eTag: '"abc"',
    sequencer: "0055AED6DCD90281E5",
    eventTime: new Date("2026-11-22T07:00:00Z"),
    region: "us-east-1",
    ...overrides,
  });

describe("S3 event notifications", () => {
  it("accept S3's records and its test event, and refuse other shapes", () => {
    expect(s3EventMessage.safeParse({ Records: [record()] }).success).toBe(true);
    const test = {
      Service: "Amazon S3",
      Event: "s3:TestEvent",
      Time: "2026-11-22T07:00:00Z",
      Bucket: "images",
    };
    expect(s3EventMessage.safeParse(test).success).toBe(true);
    for (const bad of [
      {},
      { Records: [] },
      { Records: [{ ...record(), eventVersion: "1.0" }] },
      { Records: [{ ...record(), eventSource: "aws:sqs" }] },
      { Records: [{ ...record(), s3: { ...record().s3, object: { size: 1 } } }] },
      { ...test, Event: "s3:ObjectCreated:Put" },
    ]) {
      expect(s3EventMessage.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });

  it("decode keys as S3 encodes them: '+' for spaces, percent-encoding for the rest", () => {
    expect(decodeObjectKey("inbox/acme/summer+photo+%C3%A9t%C3%A9%2B1.png")).toBe(
      "inbox/acme/summer photo été+1.png",
    );
    expect(decodeObjectKey("inbox/acme/%E0%A4%A")).toBeUndefined();
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), (key) => decodeObjectKey(encodeObjectKey(key)) === key),
    );
  });

  it("decode RFC 2047 metadata values and lower-case the names", () => {
    expect(
      decodeMetadata({
        Prompt: "=?UTF-8?B?w6l0w6kgw6AgUGFyaXM=?=",
        Album: "=?utf-8?Q?caf=C3=A9_cr=C3=A8me?=",
        N: "2",
      }),
    ).toEqual({ prompt: "été à Paris", album: "café crème", n: "2" });
  });

  it("give one object one job id, time-ordered, and another write of the key another id", () => {
    const id = inboxJobId(record());
    expect(id).toMatch(jobIdPattern);
    expect(inboxJobId(record())).toBe(id);
    expect(inboxJobId(record({ sequencer: "0055AED6DCD90281E6" }))).not.toBe(id);
    expect(inboxJobId(record({ versionId: "v2" }))).not.toBe(id);
    // Listings sort it by the upload's time, as every job id sorts by its creation time.
    expect(inboxJobId(record({ eventTime: new Date("2026-11-23T07:00:00Z") })) > id).toBe(true);
  });
});
