import { createHash } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SQSRecord } from "aws-lambda";
import { type KeyStore, type Principal, tenantPattern } from "../auth/keys.ts";
import { DomainError, InvalidInput, jobErrorOf, LimitExceeded } from "../jobs/errors.ts";
import { newEvent } from "../jobs/events.ts";
import type { Job, JobError, WebhookConfig } from "../jobs/model.ts";
import { jobIdTime, metadataSchema } from "../jobs/model.ts";
import { prepareOperation } from "../jobs/operations/index.ts";
import type { JobQueue } from "../jobs/queue.ts";
import type { ProviderRegistry } from "../jobs/registry.ts";
import { JobExistsError, type JobService } from "../jobs/service.ts";
import { type ImageSources, UploadedFile } from "../jobs/sources.ts";
import type { JobStore } from "../jobs/store.ts";
import { checkWebhook } from "../jobs/webhook.ts";
import { inboxTenant } from "../layout/keys.ts";
import type { Logger } from "../logging.ts";
import { type Metrics, noMetrics } from "../metrics.ts";
import type { AddressPolicy } from "../net/outbound.ts";
import { receiveCount, type SqsConsumer } from "../queue/messages.ts";
import { headInboxUpload, readInboxUpload } from "../storage/inbox.ts";
import type { WebhookQueue } from "../webhooks/queue.ts";
import {
  decodeObjectKey,
  isTestEvent,
  type S3EventMessage,
  type S3EventRecord,
  s3EventMessage,
} from "./events.ts";
import { inboxAttempts } from "./retries.ts";

// The inbox: an image uploaded under inbox/{tenant}/ becomes a variation job for that tenant. In AWS, S3 sends
// an event notification to the inbox queue and this runs in the inbox Lambda; in the sandbox, the sandbox
// stands in for S3 with the same event. Parameters come from the object's user metadata (x-amz-meta-*).
//
// Outcomes, per S3 record:
//   created    the job was recorded and queued (or recorded as failed: bad metadata, not an image, too large,
//              over the daily image allowance) — either way it is listed with the tenant's jobs;
//   duplicate  a job for this very object exists already (redelivered notification): nothing new is made;
//   rejected   no job can be made for anyone (unknown tenant, key outside inbox/{tenant}/, another bucket):
//              acknowledged, logged at error and counted (InboxRejected, which has an alarm);
//   ignored    not an upload (folder markers, non-ObjectCreated events), or the object is gone or replaced.
// A notification that is not an S3 event at all is reported failed, so it ends in the inbox DLQ.

export { inboxAttempts } from "./retries.ts";

export type InboxOutcome = "created" | "duplicate" | "rejected" | "ignored";

export interface InboxDeps {
  bucket: string;
  s3: S3Client;
  keys: KeyStore;
  store: JobStore;
  jobs: JobService;
  queue: JobQueue;
  webhooks: WebhookQueue;
  registry: ProviderRegistry;
  sources: ImageSources;
  urlPolicy: AddressPolicy;
  maxImageBytes: number;
  logger: Logger;
  metrics?: Metrics;
  now?: () => number;
}

/** Metadata that sets a job parameter: x-amz-meta-{name} → the variation request's field. */
const parameters: Record<string, string> = {
  model: "model",
  n: "n",
  size: "size",
  "aspect-ratio": "aspect_ratio",
  quality: "quality",
  "output-format": "output_format",
  "output-compression": "output_compression",
  background: "background",
  prompt: "prompt",
};
const numeric = new Set(["n", "output_compression"]);
const webhookKeys = new Set(["webhook-url", "webhook-events"]);
const metaName = (field: string) =>
  `x-amz-meta-${Object.entries(parameters).find(([, f]) => f === field)?.[0] ?? field}`;

/** The job an object makes: the same object (bucket, key, version or write) always gives the same id. */
export function inboxJobId(record: S3EventRecord): string {
  const object = record.s3.object;
  const identity = [
    record.s3.bucket.name,
    object.key,
    object.versionId ?? "",
    object.sequencer ?? "",
    object.eTag ?? "",
  ];
  const digest = createHash("sha256").update(identity.join("\n")).digest();
  const crockford = "0123456789abcdefghjkmnpqrstvwxyz";
  let rand = "";
  for (let i = 0; i < 16; i++) rand += crockford[(digest[i] ?? 0) % 32];
  // Time-ordered like every job id, from the upload's time, so listings sort it where it belongs.
  return `job_${jobIdTime(Date.parse(record.eventTime))}${rand}`;
}

class RejectedUploadError extends Error {
  override name = "RejectedUploadError";
}

export class Inbox implements SqsConsumer<S3EventMessage> {
  readonly schema = s3EventMessage;
  // No object to make a job of. Reported as failed, it reaches the inbox DLQ, whose alarm shows it.
  readonly malformedMessage = "Inbox message is not an S3 event notification";
  // One at a time: each may decode and re-encode a large image; the batch is small.
  readonly oneAtATime = true;

  readonly #deps: InboxDeps;
  readonly #metrics: Metrics;
  readonly #now: () => number;

  constructor(deps: InboxDeps) {
    this.#deps = deps;
    this.#metrics = deps.metrics ?? noMetrics;
    this.#now = deps.now ?? Date.now;
  }

  rejectMalformed(): void {
    this.#metrics.record("InboxRejected", 1);
  }

  /** One S3 event notification: false has it received again; every step is idempotent. */
  async consume(message: S3EventMessage, record: SQSRecord): Promise<boolean> {
    const log = this.#deps.logger.child({ messageId: record.messageId });
    if (isTestEvent(message)) {
      log.info("S3 test event acknowledged", { bucket: message.Bucket });
      return true;
    }
    const receives = receiveCount(record);
    try {
      for (const r of message.Records) {
        const outcome = await this.handle(r, receives);
        log.info("Inbox upload handled", { key: r.s3.object.key, outcome });
      }
      return true;
    } catch (err) {
      // Redelivered after the queue's visibility timeout; every step above is idempotent.
      log.warn("Inbox upload will be retried", { err, receives });
      return false;
    }
  }

  /** One S3 record. Throws to have the notification redelivered. */
  async handle(record: S3EventRecord, receives = 1): Promise<InboxOutcome> {
    const { logger } = this.#deps;
    if (!record.eventName.startsWith("ObjectCreated:")) return "ignored";
    const key = decodeObjectKey(record.s3.object.key);
    const where = { bucket: record.s3.bucket.name, key: key ?? record.s3.object.key };
    try {
      if (record.s3.bucket.name !== this.#deps.bucket)
        throw new RejectedUploadError("the notification is for another bucket");
      if (key === undefined) throw new RejectedUploadError("the object key is not valid URL encoding");
      if (key.endsWith("/")) return "ignored"; // a "folder" made in the console
      const tenant = inboxTenant(key);
      if (tenant === undefined) throw new RejectedUploadError("the key is not under inbox/{tenant}/");
      const principal = tenantPattern.test(tenant) ? await this.#principal(tenant) : undefined;
      if (!principal) throw new RejectedUploadError(`no tenant '${tenant}' with an active API key exists`);
      return await this.#intake(record, key, principal, receives);
    } catch (err) {
      if (!(err instanceof RejectedUploadError)) throw err;
      logger.error("Inbox upload rejected: no job can be made for it", { ...where, reason: err.message });
      this.#metrics.record("InboxRejected", 1);
      return "rejected";
    }
  }

  /**
   * Inbox jobs count against the tenant's oldest active key: its concurrency and daily image limits apply, and its
   * id is what the job holds. A tenant whose keys are all revoked has no active key and gets no jobs.
   */
  async #principal(tenant: string): Promise<Principal | undefined> {
    const active = (await this.#deps.keys.list(tenant)).filter((k) => k.revoked_at === undefined);
    const key = active[0];
    return key && { tenant, keyId: key.id, limits: key.limits };
  }

  async #intake(record: S3EventRecord, key: string, principal: Principal, receives: number) {
    const { store } = this.#deps;
    const tenant = principal.tenant;
    const id = inboxJobId(record);
    const existing = await store.get(tenant, id, true);
    if (existing) {
      await this.#resume(existing);
      return "duplicate";
    }
    const notified = { ...record.s3.object, key };
    const head = await headInboxUpload(this.#deps, notified);
    const upload = head === "gone" ? head : { metadata: decodeMetadata(head.rawMetadata), size: head.size };
    if (upload === "gone") {
      this.#deps.logger.warn("Inbox upload is gone or was replaced before it was read; no job", { key });
      return "ignored";
    }
    let request: Record<string, unknown> = {};
    let webhook: WebhookConfig | undefined;
    let metadata: Record<string, string> = { inbox_key: truncate(key) };
    try {
      // The webhook first, so a job that fails on its other metadata still notifies it.
      webhook = webhookOf(upload.metadata, this.#deps.urlPolicy);
      metadata = jobMetadata(upload.metadata, key);
      request = requestOf(upload.metadata);
      if (upload.size > this.#deps.maxImageBytes) {
        throw new InvalidInput(
          `Invalid upload: ${upload.size} bytes is more than the ${this.#deps.maxImageBytes}-byte limit per image.`,
          { param: "image", code: "payload_too_large" },
        );
      }
      const bytes = await readInboxUpload(this.#deps, notified);
      const prepared = await prepareOperation(
        "variation",
        { ...request, image: new UploadedFile(bytes, key) },
        this.#deps,
        tenant,
        "",
        id,
      );
      await this.#deps.jobs.submit({ principal, ...prepared, id, metadata, webhook });
      return "created";
    } catch (err) {
      if (err instanceof JobExistsError) {
        // A concurrent delivery of the same notification recorded it first.
        const recorded = await store.get(tenant, id, true);
        if (recorded) await this.#resume(recorded);
        return "duplicate";
      }
      const failure =
        err instanceof DomainError
          ? jobErrorOf(err, err.param === "image" ? "invalid_image" : "invalid_metadata")
          : undefined;
      if (!(err instanceof DomainError) || failure === undefined) throw err;
      if (err instanceof LimitExceeded && !err.untilReset && receives < inboxAttempts) {
        // The key's jobs are all busy: wait for a slot (the queue's visibility timeout), a few times.
        throw err;
      }
      return await this.#recordFailed(id, principal, record, key, {
        error: { ...failure, message: inboxMessage(err, key) },
        request,
        webhook,
        metadata,
      });
    }
  }

  /** A job for this object exists: make sure it is not stuck for want of a message, or an undelivered event. */
  async #resume(job: Job): Promise<void> {
    // Never claimed: the first delivery may have died between recording and enqueueing. A second message for a
    // queued job is harmless (claims are conditional); a job that has been tried keeps its retry schedule.
    if (job.status === "queued" && job.attempts === 0) {
      await this.#deps.queue.send({ v: 1, tenant: job.tenant, job_id: job.id });
    }
    if (job.status === "failed" || job.status === "succeeded" || job.status === "canceled") {
      await this.#deps.webhooks.dispatch(job);
    }
  }

  /**
   * An upload that cannot become a running job still becomes a job: failed, with the reason, listed with the
   * tenant's others, and announced to its webhook. The input records what was asked, as far as it was valid.
   */
  async #recordFailed(
    id: string,
    principal: Principal,
    record: S3EventRecord,
    key: string,
    f: {
      error: JobError;
      request: Record<string, unknown>;
      webhook: WebhookConfig | undefined;
      metadata: Record<string, string>;
    },
  ): Promise<InboxOutcome> {
    const { registry, store } = this.#deps;
    const now = this.#now();
    const asked = typeof f.request.model === "string" ? f.request.model : undefined;
    let resolved: ReturnType<ProviderRegistry["resolve"]>;
    try {
      resolved = registry.resolve(asked, "variation");
    } catch {
      resolved = registry.resolve(undefined, "variation");
    }
    const n = f.request.n;
    const job: Job = {
      id,
      tenant: principal.tenant,
      operation: "variation",
      input: {
        model: resolved.model.id,
        n: typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 10 ? n : 1,
        size: typeof f.request.size === "string" ? f.request.size.slice(0, 16) : "auto",
        output_format: "png",
        response_format: "url",
        image: { key, width: 0, height: 0, bytes: record.s3.object.size ?? 0, sha256: "" },
        save_source_image: false,
      },
      status: "failed",
      model: resolved.model.id,
      provider: resolved.provider.name,
      created_at: now,
      updated_at: now,
      finished_at: now,
      attempts: 0,
      error: f.error,
      metadata: f.metadata,
      ...(f.webhook && { webhook: f.webhook }),
    };
    const failed = newEvent(job, "job.failed", now);
    if (job.webhook) job.webhook_events = failed ? { failed } : {};
    try {
      await store.create(job);
    } catch (err) {
      const recorded = await store.get(principal.tenant, id, true);
      if (!recorded) throw err;
      await this.#resume(recorded);
      return "duplicate";
    }
    this.#metrics.record("JobsFailed", 1);
    this.#deps.logger.warn("Inbox upload became a failed job", { jobId: id, key, code: f.error.code });
    await this.#deps.webhooks.dispatch(job);
    return "created";
  }
}

/** S3 user metadata is ASCII on the wire; clients send other text as RFC 2047 encoded words (=?UTF-8?B?...?=). */
export function decodeMetadata(raw: Record<string, string>): Record<string, string> {
  const word = /=\?utf-8\?([bq])\?([^?]*)\?=/gi;
  const decodeWord = (_: string, encoding: string, text: string) => {
    if (encoding.toLowerCase() === "b") return Buffer.from(text, "base64").toString("utf8");
    const bytes: number[] = [];
    for (let i = 0; i < text.length; i++) {
      const hex = text[i] === "=" ? /^[0-9a-f]{2}$/i.exec(text.slice(i + 1, i + 3)) : null;
      if (hex) {
        bytes.push(Number.parseInt(hex[0], 16));
        i += 2;
      } else bytes.push(text[i] === "_" ? 0x20 : text.charCodeAt(i));
    }
    return Buffer.from(bytes).toString("utf8");
  };
  return Object.fromEntries(
    Object.entries(raw).map(([k, v]) => [k.toLowerCase(), v.replace(word, decodeWord)]),
  );
}

/** The variation request the metadata asks for; numbers stay text when they are not numbers, so validation names them. */
function requestOf(meta: Record<string, string>): Record<string, unknown> {
  const request: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(parameters)) {
    const value = meta[name];
    if (value === undefined) continue;
    request[field] = numeric.has(field) && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  }
  return request;
}

function webhookOf(meta: Record<string, string>, policy: AddressPolicy): WebhookConfig | undefined {
  const url = meta["webhook-url"];
  if (url === undefined) {
    if (meta["webhook-events"] !== undefined) {
      throw new InvalidInput("Invalid 'x-amz-meta-webhook-events': it needs x-amz-meta-webhook-url.", {
        param: "webhook.events",
      });
    }
    return undefined;
  }
  const events = meta["webhook-events"]?.split(",").map((e) => e.trim());
  try {
    return checkWebhook({ url, ...(events && { events: events as WebhookConfig["events"] }) }, policy);
  } catch (err) {
    if (err instanceof InvalidInput) {
      throw new InvalidInput(err.message.replace("'webhook.url'", "'x-amz-meta-webhook-url'"), {
        param: "webhook.url",
        cause: err,
      });
    }
    throw err;
  }
}

const truncate = (text: string) => (text.length > 512 ? `${text.slice(0, 511)}…` : text);

/** Metadata that is not a parameter travels with the job (and its webhooks), with where the upload was. */
function jobMetadata(meta: Record<string, string>, key: string): Record<string, string> {
  const extra = Object.fromEntries(
    Object.entries(meta).filter(([k]) => !(k in parameters) && !webhookKeys.has(k)),
  );
  const all = { ...extra, inbox_key: truncate(key) };
  const parsed = metadataSchema.safeParse(all);
  if (!parsed.success || Object.keys(all).length > 16) {
    throw new InvalidInput(
      "Invalid upload metadata: at most 15 x-amz-meta-* entries besides the parameters, names up to 64 characters, values up to 512.",
      { param: "metadata" },
    );
  }
  return parsed.data;
}

/** A domain error's message in the upload's terms: metadata names instead of request fields. */
function inboxMessage(err: DomainError, key: string): string {
  const { message, param } = err;
  if (param === "image") return message.replace("'image'", `upload '${key}'`);
  if (!param || param.includes(".")) return message;
  const named = `'${metaName(param)}'`;
  return message.includes(`'${param}'`)
    ? message.replace(`'${param}'`, named)
    : `Invalid ${named}: ${message.charAt(0).toLowerCase()}${message.slice(1)}`;
}
