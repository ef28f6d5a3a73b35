import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import * as z from "zod/mini";
import type { Admission, ProviderAdmission } from "../jobs/ports/limits.ts";
import { providerRateKey } from "../layout/keys.ts";
import type { Logger } from "../logging.ts";

// Provider rate limits shared by every worker: one provider key's images and requests per window (a tier's
// "images per minute"), counted in DynamoDB so a thousand concurrent workers together stay under it. This module
// owns the item pk PRL#{provider}#{key}, sk STATE: images and requests per bucket of window/12, the penalty after
// a 429, a version, and a TTL. An acquisition reads it (consistent) and writes it back on condition that the
// version is unchanged, so acquisitions of a key are serialized however many workers race: when one loses, it
// reads again. It is allowed when the open bucket and the 12 before it hold no more than the limit; so in any
// window-long span there are never more than `limit` acquisitions (the span counted is 13/12 of the window, and
// the key runs at 12/13 of its tier at most). A worker whose clock is behind counts into the newest bucket written.

export const bucketsPerWindow = 12;

export interface ProviderKeyLimit {
  /** The key's name (an OpenAI project), recorded on jobs; never its value. */
  name: string;
  images_per_window: number;
  requests_per_window?: number | undefined;
  /** 60 for a tier's per-minute limits. */
  window_seconds: number;
}

/** Lost write races before a key counts as full for this attempt (the job then waits and tries again). */
const maxRaces = 8;

/** After a 429 that got through anyway: half the limit for one window (the tier was lower than configured). */
export const penalty = { factor: 0.5, windows: 1 };

/** The DynamoDB actions the limiter calls: the stack grants them to the worker (test/infra/stack.test.ts). */
export const limiterActions = ["dynamodb:GetItem", "dynamodb:UpdateItem"] as const;

/** The key's one item: images (b) and requests (q) per bucket, the penalty after a 429, and a version. */
const stateItem = z.object({
  v: z.number(),
  b: z.optional(z.record(z.string(), z.number())),
  q: z.optional(z.record(z.string(), z.number())),
  factor: z.optional(z.number()),
  until: z.optional(z.number()),
});
export type KeyState = z.infer<typeof stateItem>;

// The window arithmetic, as pure functions of a key's state and the time: the DynamoDB adapter below and the
// simulation (bench/simulate.ts) share them.

/** What a key's state allows at `now`: the buckets in the counted span, the limits (penalty applied), the share used. */
export function keyLoad(state: KeyState, key: ProviderKeyLimit, now: number): KeyLoad {
  const bucketMs = (key.window_seconds * 1000) / bucketsPerWindow;
  const b = state.b ?? {};
  const q = state.q ?? {};
  // Plain loops: the simulation calls this for every key of every acquisition (a million times a simulated day).
  let newest = -1;
  for (const bucket in b) newest = Math.max(newest, Number(bucket));
  // Never count into a bucket older than one another worker already wrote: a late clock cannot reopen the past.
  const current = Math.max(Math.floor(now / bucketMs), newest);
  const first = current - bucketsPerWindow;
  const buckets: Record<string, number> = {};
  const requestBuckets: Record<string, number> = {};
  let images = 0;
  let requests = 0;
  let oldestUsed = current;
  for (const bucket in b) {
    const index = Number(bucket);
    if (index < first) continue;
    const n = b[bucket] ?? 0;
    const r = q[bucket] ?? 0;
    buckets[bucket] = n;
    requestBuckets[bucket] = r;
    images += n;
    requests += r;
    if (n > 0 && index < oldestUsed) oldestUsed = index;
  }
  const penalized = state.until !== undefined && state.until > now;
  const factor = penalized ? (state.factor ?? 1) : 1;
  const imageLimit = Math.floor(key.images_per_window * factor);
  const requestLimit =
    key.requests_per_window === undefined ? undefined : Math.floor(key.requests_per_window * factor);
  return {
    version: state.v,
    current,
    buckets,
    requestBuckets,
    requests,
    images,
    imageLimit,
    requestLimit,
    share: imageLimit > 0 ? images / imageLimit : Number.POSITIVE_INFINITY,
    freesAtMs: (oldestUsed + bucketsPerWindow + 1) * bucketMs,
  };
}

/** Whether the key has room for `images` more images and one more request. */
export function hasRoom(load: KeyLoad, images: number): boolean {
  const requestRoom = load.requestLimit === undefined ? 1 : load.requestLimit - load.requests;
  return load.imageLimit - load.images >= images && requestRoom >= 1;
}

/** The buckets after taking `images` (and one request) in the open bucket. */
export function taken(load: KeyLoad, images: number): Pick<KeyState, "b" | "q"> {
  return {
    b: { ...load.buckets, [load.current]: (load.buckets[load.current] ?? 0) + images },
    q: { ...load.requestBuckets, [load.current]: (load.requestBuckets[load.current] ?? 0) + 1 },
  };
}

/** The penalty a 429 at `now` sets: the factor, and until when it holds. */
export function penaltyFrom(key: ProviderKeyLimit, now: number): { factor: number; until: number } {
  return { factor: penalty.factor, until: now + penalty.windows * key.window_seconds * 1000 };
}

/** Keys in the order they are tried: least share of the limit used first. */
export function byLoad<K>(loads: readonly { load: KeyLoad; key: K }[]): { load: KeyLoad; key: K }[] {
  return [...loads].sort((a, b) => a.load.share - b.load.share);
}

/** Seconds until the earliest of the keys tried frees room (at least 1: SQS delays are whole seconds). */
export function waitSeconds(freesAtMs: readonly number[], now: number): number {
  return Math.max(1, Math.ceil((Math.min(...freesAtMs) - now) / 1000));
}

export class ProviderRateLimiter implements ProviderAdmission {
  readonly #db: DynamoDBClient;
  readonly #table: string;
  readonly #pools: Readonly<Record<string, readonly ProviderKeyLimit[]>>;
  readonly #logger: Logger;
  readonly #now: () => number;

  constructor(
    db: DynamoDBClient,
    table: string,
    pools: Readonly<Record<string, readonly ProviderKeyLimit[]>>,
    logger: Logger,
    now: () => number = Date.now,
  ) {
    this.#db = db;
    this.#table = table;
    this.#pools = pools;
    this.#logger = logger;
    this.#now = now;
  }

  /**
   * Takes `images` (and one request) from the least-loaded key of `provider`'s pool. Undefined when the provider
   * has no limits configured; `admitted: false` with the wait until the earliest key has room.
   */
  async acquire(provider: string, images: number, now = this.#now()): Promise<Admission | undefined> {
    const pool = this.#pools[provider];
    if (!pool || pool.length === 0) return undefined;
    const states = await Promise.all(pool.map((key) => this.#read(provider, key)));
    const order = byLoad(
      states.map((state, i) => ({
        load: keyLoad(state, pool[i] as ProviderKeyLimit, now),
        key: pool[i] as ProviderKeyLimit,
      })),
    );
    const frees: number[] = [];
    for (const first of order) {
      let load = first.load;
      // Another worker wrote between the read and the write: read again, a few times, with jitter.
      for (let attempt = 0; attempt < maxRaces; attempt++) {
        if (!hasRoom(load, images)) break;
        if (await this.#take(provider, first.key, load, images, now))
          return { admitted: true, key: first.key.name, images };
        await new Promise((r) => setTimeout(r, Math.random() * 20 * (attempt + 1)));
        load = keyLoad(await this.#read(provider, first.key), first.key, now);
      }
      frees.push(load.freesAtMs);
    }
    return { admitted: false, retryAfterSeconds: waitSeconds(frees, now) };
  }

  /** A 429 reached the provider call: the key runs at a fraction of its limit for a while. */
  async penalize(provider: string, key: string, now = this.#now()): Promise<void> {
    const limit = this.#pools[provider]?.find((k) => k.name === key);
    if (!limit) return;
    const { factor, until } = penaltyFrom(limit, now);
    // The version moves too, so a write based on a read from before the 429 cannot drop the penalty.
    await this.#db.send(
      new UpdateItemCommand({
        TableName: this.#table,
        Key: marshall(providerRateKey(provider, key)),
        UpdateExpression: "SET factor = :f, #until = :u, #ttl = :ttl ADD v :one",
        ExpressionAttributeNames: { "#until": "until", "#ttl": "ttl" },
        ExpressionAttributeValues: {
          ":f": { N: String(factor) },
          ":u": { N: String(until) },
          ":ttl": { N: String(Math.ceil(until / 1000) + 60) },
          ":one": { N: "1" },
        },
      }),
    );
    this.#logger.warn("Provider key throttled despite the limiter; lowering its rate for a while", {
      provider,
      key,
      factor,
      until,
    });
  }

  /** The key's state item (consistent read). */
  async #read(provider: string, key: ProviderKeyLimit): Promise<KeyState> {
    const res = await this.#db.send(
      new GetItemCommand({
        TableName: this.#table,
        Key: marshall(providerRateKey(provider, key.name)),
        ConsistentRead: true,
      }),
    );
    return res.Item ? stateItem.parse(unmarshall(res.Item)) : { v: 0 };
  }

  /**
   * Writes the buckets with the job's images added, if no other worker wrote since they were read. An update, not
   * a put: the penalty's attributes stay as they are, and the worker needs no more than GetItem and UpdateItem.
   */
  async #take(
    provider: string,
    key: ProviderKeyLimit,
    load: KeyLoad,
    images: number,
    now: number,
  ): Promise<boolean> {
    const next = taken(load, images);
    try {
      await this.#db.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: marshall(providerRateKey(provider, key.name)),
          UpdateExpression: "SET v = :next, b = :b, q = :q, #ttl = :ttl",
          ConditionExpression: load.version === 0 ? "attribute_not_exists(v)" : "v = :v",
          ExpressionAttributeNames: { "#ttl": "ttl" },
          ExpressionAttributeValues: marshall({
            ":next": load.version + 1,
            ":b": next.b,
            ":q": next.q,
            // The item outlives the counted span, then DynamoDB deletes it (the table's TTL attribute).
            ":ttl": Math.ceil((now + 2 * key.window_seconds * 1000) / 1000),
            ...(load.version !== 0 && { ":v": load.version }),
          }),
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }
}

export interface KeyLoad {
  /** The state item's version: a write succeeds only against the version read. */
  version: number;
  /** The open bucket. */
  current: number;
  /** Images per bucket in the counted span (the open bucket and the 12 before it). */
  buckets: Record<string, number>;
  requestBuckets: Record<string, number>;
  images: number;
  requests: number;
  imageLimit: number;
  requestLimit: number | undefined;
  /** Used / limit: the least loaded key is tried first. */
  share: number;
  /** When the oldest bucket holding anything leaves the span. */
  freesAtMs: number;
}
