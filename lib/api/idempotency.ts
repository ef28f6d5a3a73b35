import { createHash, randomUUID } from "node:crypto";
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import * as z from "zod/mini";
import { ConflictError, InvalidRequestError, toApiError, UnprocessableEntityError } from "../errors.ts";
import { type ItemKey, idempotencyBodyKey, idempotencyKey } from "../layout/keys.ts";
import type { Logger } from "../logging.ts";
import type { ApiRequest, ApiResponse } from "./http.ts";

// Stripe-style Idempotency-Key on the POSTs that create work. One DynamoDB item per (tenant, key), written
// with single-item conditional writes only (dynalite has no transactions):
//   claim: put {in_progress, fingerprint, lock} if no live record exists;
//   then:  the first response is stored (done) and replayed to every retry with the same request,
//          or the key is released when the request failed in a way a retry should redo.

export interface IdempotencyOptions {
  /** How long a key is remembered (DynamoDB TTL on `ttl`). */
  ttlSeconds: number;
  /** How long a duplicate waits for the first request to finish before answering 409. */
  waitMs: number;
  /** An in-progress claim older than this belongs to a request that died; a retry may take over. */
  lockMs: number;
  /** Bodies larger than this (b64_json images) go to S3, beyond DynamoDB's 400 KB item limit. */
  inlineBodyBytes: number;
}

export const defaultIdempotencyOptions: IdempotencyOptions = {
  ttlSeconds: 24 * 3600,
  waitMs: 2_000,
  // Longer than the API Lambda can run (API Gateway stops at 30 s).
  lockMs: 60_000,
  inlineBodyBytes: 256 * 1024,
};

/** The Idempotency-Key header: what the API takes, and what the API reference documents. */
export const idempotencyKeyHeader = z
  .string()
  .check(z.minLength(1), z.maxLength(255), z.regex(/^[\x21-\x7e]*$/, "visible ASCII characters only"));
/** Request headers that change what a request does, so they are part of "the same request". */
const meaningfulHeaders = ["content-type", "cancel-after"] as const;

const storedResponse = z.object({
  status: z.number(),
  headers: z.record(z.string(), z.string()),
  body: z.optional(z.string()),
  body_key: z.optional(z.string()),
});
type StoredResponse = z.infer<typeof storedResponse>;

const idempotencyRecord = z.object({
  fingerprint: z.string(),
  state: z.enum(["in_progress", "done"]),
  lock: z.optional(z.string()),
  lock_until: z.optional(z.number()),
  ttl: z.number(),
  response: z.optional(storedResponse),
});
type IdempotencyRecord = z.infer<typeof idempotencyRecord>;

/** Failures a retry should redo: rate limits and server faults — except a sync wait that ran out, whose job goes on. */
const releases = (status: number, code: string | null) =>
  status === 429 || (status >= 500 && code !== "job_pending");

export class Idempotency {
  readonly #db: DynamoDBClient;
  readonly #table: string;
  readonly #s3: S3Client;
  readonly #bucket: string;
  readonly #options: IdempotencyOptions;
  readonly #logger: Logger;
  readonly #now: () => number;

  constructor(
    clients: { db: DynamoDBClient; s3: S3Client },
    names: { table: string; bucket: string },
    logger: Logger,
    options: Partial<IdempotencyOptions> = {},
    now: () => number = Date.now,
  ) {
    this.#db = clients.db;
    this.#table = names.table;
    this.#s3 = clients.s3;
    this.#bucket = names.bucket;
    this.#options = { ...defaultIdempotencyOptions, ...options };
    this.#logger = logger;
    this.#now = now;
  }

  /** Runs `handle` once per (tenant, Idempotency-Key); without the header it just runs it. */
  async run(tenant: string, req: ApiRequest, handle: () => Promise<ApiResponse>): Promise<ApiResponse> {
    const key = req.headers["idempotency-key"];
    if (key === undefined) return handle();
    if (!idempotencyKeyHeader.safeParse(key).success) {
      throw new InvalidRequestError(
        "Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is a good choice).",
        { param: "Idempotency-Key" },
      );
    }
    const keyHash = sha256(key);
    const item = idempotencyKey(tenant, keyHash);
    const bodyKey = idempotencyBodyKey(tenant, keyHash);
    const fingerprint = fingerprintOf(req);
    const started = this.#now();
    for (;;) {
      const lock = randomUUID();
      if (await this.#claim(item, fingerprint, lock)) return this.#runClaimed(item, lock, bodyKey, handle);
      const found = await this.#read(item);
      if (!found) continue; // released between the two reads: claim again
      if (found.fingerprint !== fingerprint) {
        throw new UnprocessableEntityError(
          "This Idempotency-Key was already used with a different request. Use a new key for a new request.",
          { param: "Idempotency-Key", code: "idempotency_key_reused" },
        );
      }
      if (found.state === "done" && found.response) return this.#replay(found.response);
      if (this.#now() - started >= this.#options.waitMs) {
        throw new ConflictError(
          "A request with this Idempotency-Key is still in progress. Retry in a moment to get its response.",
          { param: "Idempotency-Key", code: "idempotency_key_in_use", headers: { "retry-after": "1" } },
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async #runClaimed(
    item: ItemKey,
    lock: string,
    bodyKey: string,
    handle: () => Promise<ApiResponse>,
  ): Promise<ApiResponse> {
    let res: ApiResponse;
    try {
      res = await handle();
    } catch (err) {
      const apiError = toApiError(err);
      if (releases(apiError.status, apiError.code)) await this.#release(item, lock);
      else {
        const body = apiError.toBody();
        await this.#complete(item, lock, bodyKey, {
          status: apiError.status,
          headers: apiError.headers,
          body,
        });
      }
      throw err;
    }
    if (releases(res.status, null)) await this.#release(item, lock);
    else if (res.events) return { ...res, events: this.#recorded(res.events, item, lock, bodyKey, res) };
    else await this.#complete(item, lock, bodyKey, res);
    return res;
  }

  /**
   * A streamed answer (stream: true) is stored once its last event is sent, as the SSE text it was, and a replay
   * sends that text whole. A stream cut short (the client left) releases the key instead: there is no complete
   * answer to replay, and the job it started goes on and is found with GET /v1/jobs.
   */
  async *#recorded(
    events: AsyncIterable<string>,
    item: ItemKey,
    lock: string,
    bodyKey: string,
    res: ApiResponse,
  ): AsyncGenerator<string> {
    let text = "";
    let complete = false;
    try {
      for await (const chunk of events) {
        text += chunk;
        yield chunk;
      }
      complete = true;
    } finally {
      if (complete)
        await this.#complete(item, lock, bodyKey, { status: res.status, headers: res.headers ?? {}, text });
      else await this.#release(item, lock);
    }
  }

  async #claim(item: ItemKey, fingerprint: string, lock: string): Promise<boolean> {
    const now = this.#now();
    try {
      await this.#db.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: marshall({
            ...item,
            fingerprint,
            state: "in_progress",
            lock,
            lock_until: now + this.#options.lockMs,
            created_at: now,
            ttl: Math.floor(now / 1000) + this.#options.ttlSeconds,
          }),
          // TTL deletion lags by up to days; an expired record counts as absent.
          ConditionExpression:
            "attribute_not_exists(pk) OR #ttl < :nowSeconds OR (#state = :inProgress AND lock_until < :now AND fingerprint = :fingerprint)",
          ExpressionAttributeNames: { "#ttl": "ttl", "#state": "state" },
          ExpressionAttributeValues: marshall({
            ":nowSeconds": Math.floor(now / 1000),
            ":inProgress": "in_progress",
            ":now": now,
            ":fingerprint": fingerprint,
          }),
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  async #read(item: ItemKey): Promise<IdempotencyRecord | undefined> {
    const res = await this.#db.send(
      new GetItemCommand({ TableName: this.#table, Key: marshall(item), ConsistentRead: true }),
    );
    if (!res.Item) return undefined;
    const parsed = idempotencyRecord.safeParse(unmarshall(res.Item));
    if (!parsed.success) throw new Error("An idempotency record does not match the schema.");
    if (parsed.data.ttl < Math.floor(this.#now() / 1000)) return undefined;
    return parsed.data;
  }

  async #complete(item: ItemKey, lock: string, bodyKey: string, res: ApiResponse) {
    try {
      // A body already serialised (a sync images answer) is stored as it is; replays parse it back.
      const body = res.text ?? (res.body === undefined ? undefined : JSON.stringify(res.body));
      const spill = body !== undefined && Buffer.byteLength(body) > this.#options.inlineBodyBytes;
      if (spill) {
        await this.#s3.send(
          new PutObjectCommand({
            Bucket: this.#bucket,
            Key: bodyKey,
            Body: body,
            ContentType: "application/json",
          }),
        );
      }
      const stored: StoredResponse = {
        status: res.status,
        headers: res.headers ?? {},
        ...(body !== undefined && (spill ? { body_key: bodyKey } : { body })),
      };
      await this.#db.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: marshall(item),
          UpdateExpression: "SET #state = :done, #response = :response REMOVE #lock, lock_until",
          ConditionExpression: "#lock = :lock",
          ExpressionAttributeNames: { "#state": "state", "#response": "response", "#lock": "lock" },
          ExpressionAttributeValues: marshall({ ":done": "done", ":response": stored, ":lock": lock }),
        }),
      );
    } catch (err) {
      // The response still goes out; a retry after the lock expires runs the request again.
      this.#logger.error("Could not store the idempotent response", { err });
    }
  }

  async #release(item: ItemKey, lock: string) {
    try {
      await this.#db.send(
        new DeleteItemCommand({
          TableName: this.#table,
          Key: marshall(item),
          ConditionExpression: "#lock = :lock",
          ExpressionAttributeNames: { "#lock": "lock" },
          ExpressionAttributeValues: marshall({ ":lock": lock }),
        }),
      );
    } catch (err) {
      this.#logger.warn("Could not release the idempotency key; it frees itself when its lock expires", {
        err,
      });
    }
  }

  async #replay(stored: StoredResponse): Promise<ApiResponse> {
    let text = stored.body;
    if (stored.body_key !== undefined) {
      const res = await this.#s3.send(new GetObjectCommand({ Bucket: this.#bucket, Key: stored.body_key }));
      text = await res.Body?.transformToString();
    }
    const headers: Record<string, string> = { ...stored.headers, "idempotent-replayed": "true" };
    // An event stream is replayed as the text it was; JSON is parsed back, and written again as JSON.
    if (text !== undefined && headers["content-type"]?.startsWith("text/event-stream"))
      return { status: stored.status, headers, text };
    return {
      status: stored.status,
      headers,
      ...(text !== undefined && { body: JSON.parse(text) as unknown }),
    };
  }
}

const sha256 = (text: string | Buffer) => createHash("sha256").update(text).digest("hex");

/** "The same request": method, path, the headers that change its meaning, and the body's exact bytes. */
function fingerprintOf(req: ApiRequest): string {
  const headers = meaningfulHeaders.map((h) => `${h}:${req.headers[h] ?? ""}`);
  return sha256([req.method, req.path, ...headers, sha256(req.body)].join("\n"));
}
