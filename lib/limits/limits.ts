import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import * as z from "zod/mini";
import type { Principal } from "../auth/keys.ts";
import { LimitExceeded, Unavailable } from "../jobs/errors.ts";
import { isTerminal, type Job, type JobHold } from "../jobs/model.ts";
import type { JobLimits } from "../jobs/ports/limits.ts";
import { activeJobsKey, dailyImagesKey, type ItemKey, rateWindowKey } from "../layout/keys.ts";
import type { Logger } from "../logging.ts";

// Per-key limits, counted atomically with conditional writes on items in the key's own partition (lib/layout/keys.ts),
// so no item is shared between keys, let alone tenants: requests in one fixed minute window (n) and images reserved
// and used on one UTC day (images), both expiring by TTL, and the key's jobs holding a concurrency slot (a map
// job id → time taken).

/** What the API asks before serving a request. */
export interface RequestLimiter {
  admitRequest(principal: Principal, now?: number): Promise<void>;
}

export interface LimitsOptions {
  /** A slot this young whose job is missing may belong to a job being recorded right now. */
  reclaimGraceMs?: number;
  /** A slot this old is freed whatever its job says: nothing legitimately stays queued that long. */
  slotMaxAgeMs?: number;
  now?: () => number;
}

/** Reads a job by tenant and id; JobStore.get with a consistent read. */
export type JobReader = (tenant: string, id: string) => Promise<Job | undefined>;

const minuteMs = 60_000;
const dayMs = 86_400_000;
const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const epochSeconds = (ms: number) => Math.floor(ms / 1000);
const concurrencyRetryAfterSeconds = 5;
const reclaimEveryMs = 30_000;

const activeRecord = z.object({ slots: z.optional(z.record(z.string(), z.number())) });

export class Limits implements RequestLimiter, JobLimits {
  readonly #db: DynamoDBClient;
  readonly #table: string;
  readonly #readJob: JobReader;
  readonly #logger: Logger;
  readonly #graceMs: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;

  constructor(
    db: DynamoDBClient,
    table: string,
    readJob: JobReader,
    logger: Logger,
    options: LimitsOptions = {},
  ) {
    this.#db = db;
    this.#table = table;
    this.#readJob = readJob;
    this.#logger = logger;
    this.#graceMs = options.reclaimGraceMs ?? 60_000;
    this.#maxAgeMs = options.slotMaxAgeMs ?? dayMs;
    this.#now = options.now ?? Date.now;
  }

  async admitRequest(principal: Principal, now = this.#now()): Promise<void> {
    const limit = principal.limits.requests_per_minute;
    if (limit === undefined) return;
    const minute = Math.floor(now / minuteMs);
    const admitted = await this.#add(
      rateWindowKey(principal.keyId, minute),
      "n",
      1,
      limit,
      (minute + 2) * minuteMs,
    );
    if (!admitted) {
      const retryAfter = ((minute + 1) * minuteMs - now) / 1000;
      throw new LimitExceeded(
        `Rate limit reached for this API key: ${limit} requests per minute. Please try again in ${Math.ceil(retryAfter)} s.`,
        retryAfter,
      );
    }
  }

  async reserveJob(
    principal: Principal,
    jobId: string,
    images: number,
    now = this.#now(),
  ): Promise<JobHold | undefined> {
    const { concurrent_jobs: maxJobs, images_per_day: perDay } = principal.limits;
    if (maxJobs === undefined && perDay === undefined) return undefined;
    const hold: JobHold = { key_id: principal.keyId, slot: maxJobs !== undefined, images };
    if (maxJobs !== undefined) await this.#takeSlot(principal, jobId, maxJobs, now);
    if (perDay !== undefined) {
      const day = utcDay(now);
      let reserved = false;
      try {
        // used + images <= perDay, as a condition DynamoDB can check: used < perDay - images + 1.
        reserved =
          images <= perDay &&
          (await this.#add(
            dailyImagesKey(principal.keyId, day),
            "images",
            images,
            perDay - images + 1,
            now + 2 * dayMs,
          ));
      } finally {
        if (!reserved && hold.slot) await this.#freeSlot(principal.keyId, jobId);
      }
      if (!reserved) {
        const retryAfter = (Math.floor(now / dayMs + 1) * dayMs - now) / 1000;
        throw new LimitExceeded(
          `This API key's allowance of ${perDay} images per day (UTC) does not cover ${images} more today (${day}). It resets at 00:00 UTC.`,
          retryAfter,
          // The openai SDK would otherwise retry at once, ignoring a Retry-After of hours.
          { code: "daily_image_limit_exceeded", untilReset: true },
        );
      }
      hold.day = day;
    }
    return hold;
  }

  async releaseJob(job: Job, settleImages: boolean): Promise<void> {
    const hold = job.hold;
    if (!hold) return;
    if (hold.slot) await this.#freeSlot(hold.key_id, job.id);
    if (settleImages && hold.day !== undefined) {
      const produced = job.status === "succeeded" ? (job.output?.images.length ?? 0) : 0;
      const unused = hold.images - produced;
      if (unused > 0) {
        await this.#db
          .send(
            new UpdateItemCommand({
              TableName: this.#table,
              Key: marshall(dailyImagesKey(hold.key_id, hold.day)),
              UpdateExpression: "ADD images :back",
              ConditionExpression: "attribute_exists(images)",
              ExpressionAttributeValues: marshall({ ":back": -unused }),
            }),
          )
          .catch((err: unknown) => {
            if (!(err instanceof ConditionalCheckFailedException)) throw err;
          });
      }
    }
  }

  /** ADDs `amount` to a counter whose value is below `limit`. False when the limit refused it. */
  async #add(counter: ItemKey, attr: string, amount: number, limit: number, expiresMs: number) {
    try {
      await this.#db.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: marshall(counter),
          UpdateExpression: "ADD #c :amount SET #ttl = :ttl",
          ConditionExpression: "attribute_not_exists(#c) OR #c < :limit",
          ExpressionAttributeNames: { "#c": attr, "#ttl": "ttl" },
          ExpressionAttributeValues: marshall({
            ":amount": amount,
            ":limit": limit,
            ":ttl": epochSeconds(expiresMs),
          }),
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw new Unavailable("Could not check this key's limits. Please retry.", { cause: err });
    }
  }

  async #takeSlot(principal: Principal, jobId: string, maxJobs: number, now: number): Promise<void> {
    const key = marshall(activeJobsKey(principal.keyId));
    try {
      let reclaimed = false;
      for (let tries = 0; tries < 4; tries++) {
        if (await this.#trySlot(key, jobId, maxJobs, now)) return;
        const current = await this.#db.send(
          new GetItemCommand({ TableName: this.#table, Key: key, ConsistentRead: true }),
        );
        const slots = current.Item ? activeRecord.parse(unmarshall(current.Item)).slots : undefined;
        if (slots === undefined) {
          // The key's first limited job creates the map, with its own slot in it.
          if (await this.#createSlots(key, jobId, now)) return;
          continue; // another request created it meanwhile
        }
        if (reclaimed || (await this.#reclaim(principal, slots, now)) === 0) break;
        reclaimed = true;
      }
    } catch (err) {
      throw new Unavailable("Could not check this key's limits. Please retry.", { cause: err });
    }
    throw new LimitExceeded(
      `This API key already has ${maxJobs} job${maxJobs === 1 ? "" : "s"} queued or running, its limit. Retry when one finishes.`,
      concurrencyRetryAfterSeconds,
      { code: "concurrency_limit_exceeded" },
    );
  }

  async #trySlot(key: Record<string, AttributeValue>, jobId: string, maxJobs: number, now: number) {
    try {
      await this.#db.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: key,
          UpdateExpression: "SET slots.#job = :now",
          // Taking a slot this job already holds succeeds, so an SDK-level retry of this write is harmless.
          ConditionExpression:
            "attribute_exists(slots) AND (size(slots) < :max OR attribute_exists(slots.#job))",
          ExpressionAttributeNames: { "#job": jobId },
          ExpressionAttributeValues: marshall({ ":now": now, ":max": maxJobs }),
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  async #createSlots(key: Record<string, AttributeValue>, jobId: string, now: number) {
    try {
      await this.#db.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: { ...key, ...marshall({ slots: { [jobId]: now } }) },
          ConditionExpression: "attribute_not_exists(slots)",
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  /**
   * Frees slots whose jobs have ended, were never recorded, or are implausibly old. Ending a job releases
   * its slot, but a process can die between the two writes: this is where such a slot comes back. It reads
   * every slot's job, so it runs at most once per `reclaimEveryMs` per key, however hard a full key is pushed.
   */
  async #reclaim(principal: Principal, slots: Record<string, number>, now: number): Promise<number> {
    try {
      await this.#db.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: marshall(activeJobsKey(principal.keyId)),
          UpdateExpression: "SET reclaimed_at = :now",
          ConditionExpression: "attribute_not_exists(reclaimed_at) OR reclaimed_at < :since",
          ExpressionAttributeValues: marshall({ ":now": now, ":since": now - reclaimEveryMs }),
        }),
      );
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return 0;
      throw err;
    }
    const entries = Object.entries(slots);
    let freed = 0;
    for (let i = 0; i < entries.length; i += 25) {
      const results = await Promise.all(
        entries.slice(i, i + 25).map(async ([jobId, takenAt]) => {
          const age = now - takenAt;
          if (age <= this.#maxAgeMs) {
            const job = await this.#readJob(principal.tenant, jobId).catch((err: unknown) => {
              this.#logger.error("Could not read a slot's job; keeping the slot", { jobId, err });
              return "unknown" as const;
            });
            if (job === "unknown") return false;
            // A missing job this young may be one being recorded right now.
            if (job ? !isTerminal(job.status) : age <= this.#graceMs) return false;
          }
          return this.#freeSlot(principal.keyId, jobId, takenAt);
        }),
      );
      freed += results.filter(Boolean).length;
    }
    if (freed > 0) {
      this.#logger.warn("Reclaimed concurrency slots of ended jobs", { keyId: principal.keyId, freed });
    }
    return freed;
  }

  /** Removes a job's slot; with `takenAt`, only if the slot is still that one. True if it was there. */
  async #freeSlot(keyId: string, jobId: string, takenAt?: number): Promise<boolean> {
    const values: Record<string, AttributeValue> | undefined =
      takenAt === undefined ? undefined : marshall({ ":at": takenAt });
    try {
      await this.#db.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: marshall(activeJobsKey(keyId)),
          UpdateExpression: "REMOVE slots.#job",
          ConditionExpression: takenAt === undefined ? "attribute_exists(slots.#job)" : "slots.#job = :at",
          ExpressionAttributeNames: { "#job": jobId },
          ...(values && { ExpressionAttributeValues: values }),
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }
}
