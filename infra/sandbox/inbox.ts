import { randomUUID } from "node:crypto";
import { HeadObjectCommand, type HeadObjectCommandOutput, type S3Client } from "@aws-sdk/client-s3";
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { MessageSpyReader, S3SpyEvent, SpyMessage } from "fauxqs";
import { objectCreatedRecord } from "../../lib/inbox/events.ts";
import type { Logger } from "../../lib/logging.ts";
import { bucketPrefixes } from "../resources.ts";

export interface InboxForwarderOptions {
  /** fauxqs's in-process event feed: every PutObject, CopyObject and completed multipart upload shows up here. */
  spy: MessageSpyReader;
  s3: S3Client;
  sqs: SQSClient;
  bucket: string;
  queueUrl: string;
  region: string;
  logger: Logger;
}

/**
 * S3's event notification for the inbox, locally. fauxqs accepts notification configurations but never delivers
 * them, so the sandbox stands in for S3: each object created under inbox/ is sent to the inbox queue as the
 * notification S3 would send (event version 2.1, in the message body), and the inbox function cannot tell.
 * Event-driven: it waits on fauxqs's upload events, never polls the bucket. Like S3, it announces itself with an
 * s3:TestEvent when it starts (S3 sends one when a notification configuration is put).
 */
export class InboxForwarder {
  readonly #o: InboxForwarderOptions;
  #running = false;
  #watcher: Promise<void> = Promise.resolve();
  readonly #inFlight = new Set<Promise<void>>();
  #sequence = 0;

  constructor(options: InboxForwarderOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    const { bucket } = this.#o;
    await this.#send({
      Service: "Amazon S3",
      Event: "s3:TestEvent",
      Time: new Date().toISOString(),
      Bucket: bucket,
      RequestId: randomUUID(),
      HostId: "sandbox",
    });
    this.#running = true;
    this.#watcher = this.#watch();
  }

  /** Stops watching and waits for notifications being sent. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    // Rejects the pending wait (the sandbox owns this emulator, so no one else is waiting on it).
    this.#o.spy.clear();
    await this.#watcher;
    await Promise.all(this.#inFlight);
  }

  async #watch(): Promise<void> {
    const { spy, bucket, logger } = this.#o;
    // The spy's buffer keeps past events and is searched first: remember which uploads were forwarded.
    const seen = new WeakSet<SpyMessage>();
    const isInboxUpload = (m: SpyMessage) =>
      m.service === "s3" &&
      m.status === "uploaded" &&
      m.bucket === bucket &&
      m.key.startsWith(bucketPrefixes.inbox) &&
      !seen.has(m);
    while (this.#running) {
      let upload: S3SpyEvent;
      try {
        upload = (await spy.waitForMessage(isInboxUpload)) as S3SpyEvent;
      } catch {
        continue; // the buffer was cleared (stop, or a reset): wait again, or end
      }
      seen.add(upload);
      const sending: Promise<void> = this.#forward(upload)
        .catch((err: unknown) =>
          logger.error("Could not forward an inbox upload to the inbox queue", { key: upload.key, err }),
        )
        .finally(() => this.#inFlight.delete(sending));
      this.#inFlight.add(sending);
    }
  }

  async #forward(upload: S3SpyEvent): Promise<void> {
    const { s3, bucket, region, logger } = this.#o;
    let head: HeadObjectCommandOutput;
    try {
      head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: upload.key }));
    } catch (err) {
      // Deleted again at once: S3 would still notify, and the inbox would find it gone. Same outcome, less noise.
      logger.warn("An inbox upload was gone before its notification was sent", { key: upload.key, err });
      return;
    }
    // S3's sequencer: hexadecimal, increasing for one key. Unique per upload here, so each write is its own job.
    const sequencer = (BigInt(upload.timestamp) * 4096n + BigInt(this.#sequence++ % 4096))
      .toString(16)
      .toUpperCase()
      .padStart(18, "0");
    const record = objectCreatedRecord({
      bucket,
      key: upload.key,
      size: head.ContentLength ?? 0,
      eTag: head.ETag ?? "",
      versionId: head.VersionId,
      sequencer,
      eventTime: new Date(upload.timestamp),
      region,
    });
    await this.#send({ Records: [record] });
  }

  async #send(body: unknown): Promise<void> {
    await this.#o.sqs.send(
      new SendMessageCommand({ QueueUrl: this.#o.queueUrl, MessageBody: JSON.stringify(body) }),
    );
  }
}
