import type { ImageFormat } from "../images/types.ts";

// The storage layout: every S3 object key and every DynamoDB key the service writes is built here and nowhere
// else, so the single table's item families and the bucket's prefixes can be read in one place.
//
// The single table (pk, sk; gsi1pk, gsi1sk on job items):
//   T#{tenant}           J#{jobId}                  a job (gsi1: T#{tenant}#S#{status} / J#{jobId})
//   T#{tenant}           KEY#{keyId}                a tenant's API key, for listing
//   T#{tenant}           IDEMPOTENCY#{sha256}       a stored answer to an Idempotency-Key
//   T#{tenant}           WEBHOOK_DISABLED#{sha256}  a webhook URL that answered 410 Gone
//   T#{tenant}           WEBHOOK_SECRET             the tenant's webhook signing secrets
//   KEY#{keyId}          KEY                        an API key, for authentication
//   KEY#{keyId}          RATE#{minute}              requests in one minute window
//   KEY#{keyId}          DAY#{date}                 images reserved and used on one UTC day
//   KEY#{keyId}          ACTIVE                     the key's jobs holding a concurrency slot
//   PRL#{provider}#{key} STATE                      a provider key's rate-limit buckets
//   BATCH#open           B#{batchId}                a batch-lane batch not yet settled (the poller queries it)
//   USAGE#{tenant}       {date}#{operation}#{model} a day's usage counters
//   USAGE#{tenant}       MONTH#{yyyy-mm}            the month's spend, for budgets

export interface ItemKey {
  pk: string;
  sk: string;
}

const tenantPartition = (tenant: string) => `T#${tenant}`;
const keyPartition = (keyId: string) => `KEY#${keyId}`;
const jobSortKey = (jobId: string) => `J#${jobId}`;

/** A job item. */
export const jobKey = (tenant: string, jobId: string): ItemKey => ({
  pk: tenantPartition(tenant),
  sk: jobSortKey(jobId),
});

/** The `gsi1` index lists a tenant's jobs by status, newest first. Every status write keeps it in step. */
export const statusIndex = "gsi1";

/** A job item's place in `gsi1`. */
export const jobStatusKey = (tenant: string, status: string, jobId: string) => ({
  gsi1pk: `${tenantPartition(tenant)}#S#${status}`,
  gsi1sk: jobSortKey(jobId),
});

/**
 * Sort-key bounds (both inclusive) for the jobs whose ids begin with `job_{from}` up to `job_{to}`: job ids
 * start with their creation time, so a time range is a sort-key range. Open ends take every job.
 */
export const jobRange = (fromIdTime: string | undefined, toIdTime: string | undefined) => ({
  from: jobSortKey(`job_${fromIdTime ?? ""}`),
  to: jobSortKey(`job_${toIdTime ?? "~"}`),
});

/** Whether the job `jobId` falls inside a range from `jobRange`. */
export const inJobRange = (jobId: string, range: { from: string; to: string }) => {
  const sk = jobSortKey(jobId);
  return sk >= range.from && sk <= range.to;
};

/** An API key, by id (authentication). */
export const apiKeyKey = (keyId: string): ItemKey => ({ pk: keyPartition(keyId), sk: "KEY" });

/** An API key in its tenant's partition (listing). */
export const tenantApiKeyKey = (tenant: string, keyId: string): ItemKey => ({
  pk: tenantPartition(tenant),
  sk: `KEY#${keyId}`,
});

/** The query that lists a tenant's API keys: its partition and the sort-key prefix. */
export const tenantApiKeysPrefix = (tenant: string) => ({ pk: tenantPartition(tenant), prefix: "KEY#" });

/** A key's request counter for one fixed minute window (`minute` = epoch ms / 60000). */
export const rateWindowKey = (keyId: string, minute: number): ItemKey => ({
  pk: keyPartition(keyId),
  sk: `RATE#${minute}`,
});

/** A key's images reserved and used on one UTC day (`yyyy-mm-dd`). */
export const dailyImagesKey = (keyId: string, day: string): ItemKey => ({
  pk: keyPartition(keyId),
  sk: `DAY#${day}`,
});

/** A key's concurrency slots. */
export const activeJobsKey = (keyId: string): ItemKey => ({ pk: keyPartition(keyId), sk: "ACTIVE" });

/** A provider key's rate-limit state. */
export const providerRateKey = (provider: string, key: string): ItemKey => ({
  pk: `PRL#${provider}#${key}`,
  sk: "STATE",
});

/** The partition of the batch lane's open batches: the poller queries it (never a Scan). */
export const openBatchesPartition = "BATCH#open";

/** An open batch of the batch lane, until its job has settled. */
export const openBatchKey = (batchId: string): ItemKey => ({ pk: openBatchesPartition, sk: `B#${batchId}` });

/** A stored answer to an Idempotency-Key (`keyHash`: the key's SHA-256, hex). */
export const idempotencyKey = (tenant: string, keyHash: string): ItemKey => ({
  pk: tenantPartition(tenant),
  sk: `IDEMPOTENCY#${keyHash}`,
});

/** A webhook URL disabled after 410 Gone (`urlHash`: the URL's SHA-256, hex). */
export const disabledWebhookKey = (tenant: string, urlHash: string): ItemKey => ({
  pk: tenantPartition(tenant),
  sk: `WEBHOOK_DISABLED#${urlHash}`,
});

/** A tenant's webhook signing secrets. */
export const webhookSecretKey = (tenant: string): ItemKey => ({
  pk: tenantPartition(tenant),
  sk: "WEBHOOK_SECRET",
});

/** A tenant's usage partition: one counter item per UTC day, operation and model, and one per month. */
export const usagePartition = (tenant: string) => `USAGE#${tenant}`;

/** A day's usage counters for one operation and model (`date`: `yyyy-mm-dd`). */
export const usageDayKey = (tenant: string, date: string, operation: string, model: string): ItemKey => ({
  pk: usagePartition(tenant),
  sk: `${date}#${operation}#${model}`,
});

/** Sort-key bounds (inclusive) for the usage rows of `from`..`to` (UTC dates). */
export const usageDateRange = (from: string, to: string) => ({
  from,
  // "~" sorts after "#", so every row of the last day is inside the range.
  to: `${to}~`,
});

/** The month's spend (the UTC month of `ms`), which budgets read. */
export const usageMonthKey = (tenant: string, ms: number): ItemKey => ({
  pk: usagePartition(tenant),
  sk: `MONTH#${new Date(ms).toISOString().slice(0, 7)}`,
});

// The bucket.

const extension = (format: ImageFormat) => (format === "jpeg" ? "jpg" : format);

/** Deterministic keys: a redelivered job overwrites its own objects instead of adding new ones. */
export function outputKey(tenant: string, jobId: string, index: number, format: ImageFormat): string {
  return `tenants/${tenant}/jobs/${jobId}/output-${index}.${extension(format)}`;
}

/** A preview streamed while the job ran (partial_images); beside the outputs, kept as long as they are. */
export function partialKey(
  tenant: string,
  jobId: string,
  image: number,
  index: number,
  format: ImageFormat,
): string {
  return `tenants/${tenant}/jobs/${jobId}/partial-${image}-${index}.${extension(format)}`;
}

/** Where a job output's own URL points, as `outputKey` builds it; the path-style bucket prefix may precede it. */
export const outputKeyPattern =
  /(?:^|\/)tenants\/([a-z0-9][a-z0-9_-]{0,63})\/jobs\/(job_[0-9a-z]{26})\/output-(\d{1,2})\.(?:png|jpg|webp)$/;

/**
 * Where an input image waits for its job. Everything under this prefix is transient: the bucket's lifecycle
 * rule expires it, so inputs of requests that never became jobs (or whose job is long done) clean themselves up.
 */
export const sourcesPrefix = "sources/";

export function sourceKey(tenant: string, jobId: string, name: string): string {
  return `${sourcesPrefix}${tenant}/${jobId}/${name}.png`;
}

/**
 * An input kept (save_source_image / save_source_mask) beside the outputs, or in the tenant's own sources folder
 * when one is configured; always under the tenant's prefix, and kept as long as outputs are.
 */
export function keptSourceKey(
  tenant: string,
  jobId: string,
  role: "image" | "mask",
  index: number,
  folder?: string,
): string {
  return `tenants/${tenant}/${folder === undefined ? "jobs" : `folders/${folder}`}/${jobId}/${role === "mask" ? "source-mask" : `source-${index}`}.png`;
}

/** Everything under this prefix expires (the bucket's lifecycle rule, infra/constructs/storage.ts): unused uploads clean up. */
export const uploadsPrefix = "uploads/";

export const uploadIdPattern = /^upload_[0-9a-hjkmnp-tv-z]{26}$/;

/** An upload's object: its key holds the tenant, so another tenant's upload_id names an object never read here. */
export function uploadKey(tenant: string, uploadId: string): string {
  return `${uploadsPrefix}${tenant}/${uploadId}`;
}

/** Images uploaded under inbox/{tenant}/ become variation jobs for that tenant. */
export const inboxPrefix = "inbox/";

/** The tenant an inbox object's key names, or undefined for a key that is not under inbox/{tenant}/. */
export function inboxTenant(key: string): string | undefined {
  return /^inbox\/([^/]+)\/(.+)$/.exec(key)?.[1];
}

/** An idempotent answer too large to keep in its item. */
export function idempotencyBodyKey(tenant: string, keyHash: string): string {
  return `tenants/${tenant}/idempotency/${keyHash}.json`;
}
