import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import * as z from "zod/mini";
import { apiKeyKey, tenantApiKeyKey, tenantApiKeysPrefix } from "../layout/keys.ts";

/** What an admin may cap per key. Absent means unlimited. */
export const keyLimits = z.strictObject({
  requests_per_minute: z.optional(z.number().check(z.int(), z.gte(1), z.lte(1_000_000))),
  // The open slots live in one DynamoDB item; 1000 of them stay far below its 400 KB limit.
  concurrent_jobs: z.optional(z.number().check(z.int(), z.gte(1), z.lte(1_000))),
  images_per_day: z.optional(z.number().check(z.int(), z.gte(1), z.lte(10_000_000))),
});
export type KeyLimits = z.infer<typeof keyLimits>;

export interface Principal {
  tenant: string;
  keyId: string;
  limits: KeyLimits;
}

/** A key as an admin sees it: never its secret, never its hash. */
export interface KeyInfo {
  id: string;
  tenant: string;
  name: string;
  created_at: number;
  limits: KeyLimits;
  revoked_at?: number | undefined;
}

const keyRecord = z.object({
  key_id: z.string(),
  tenant: z.string(),
  name: z.string(),
  created_at: z.number(),
  limits: z.optional(keyLimits),
  revoked_at: z.optional(z.number()),
});
const authRecord = z.extend(keyRecord, { hash: z.string() });

export const tenantPattern = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const keyIdPattern = /^key_[0-9a-f]{16}$/;

const hashKey = (key: string) => createHash("sha256").update(key).digest("hex");

// Two items per key, written with single-item conditional writes (dynalite has no transactions):
//   KEY#{id} / KEY          authenticates: holds the hash; found from the presented key's hash prefix
//   T#{tenant} / KEY#{id}   lists a tenant's keys with a Query, never a Scan
// The id is the hash's first 64 bits, so the auth item is found without an index, and the full hash is
// then compared in constant time.
const authKey = (id: string) => marshall(apiKeyKey(id));
const listKey = (tenant: string, id: string) => marshall(tenantApiKeyKey(tenant, id));

function info(item: Record<string, AttributeValue>): KeyInfo {
  const r = keyRecord.parse(unmarshall(item));
  return {
    id: r.key_id,
    tenant: r.tenant,
    name: r.name,
    created_at: r.created_at,
    limits: r.limits ?? {},
    ...(r.revoked_at !== undefined && { revoked_at: r.revoked_at }),
  };
}

/** API keys, stored only as SHA-256 hashes. A key is high-entropy, so an unsalted hash is safe to index. */
export class KeyStore {
  readonly #db: DynamoDBClient;
  readonly #table: string;

  constructor(db: DynamoDBClient, table: string) {
    this.#db = db;
    this.#table = table;
  }

  static generate(): string {
    return `sk-img-${randomBytes(24).toString("base64url")}`;
  }

  static idOf(key: string): string {
    return `key_${hashKey(key).slice(0, 16)}`;
  }

  /** Issues a new key. The secret is returned here, once, and never stored. */
  async create(
    tenant: string,
    name: string,
    limits: KeyLimits,
    now = Date.now(),
  ): Promise<{ key: string; info: KeyInfo }> {
    for (;;) {
      const key = KeyStore.generate();
      const stored = await this.#register(key, tenant, name, limits, now);
      // A clash of 64-bit id prefixes is astronomically rare; draw again rather than overwrite.
      if (stored) return { key, info: stored };
    }
  }

  /** Registers a given key (the sandbox's own) idempotently: the first registration stands. */
  async put(key: string, tenant: string, name: string, now = Date.now()): Promise<string> {
    await this.#register(key, tenant, name, {}, now);
    return KeyStore.idOf(key);
  }

  async #register(
    key: string,
    tenant: string,
    name: string,
    limits: KeyLimits,
    now: number,
  ): Promise<KeyInfo | undefined> {
    if (!tenantPattern.test(tenant)) throw new Error(`Invalid tenant name '${tenant}'`);
    const hash = hashKey(key);
    const id = KeyStore.idOf(key);
    const record = { key_id: id, tenant, name, created_at: now, limits };
    // The auth item first: if we stop before the listing item, the key was never handed out.
    try {
      await this.#db.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: { ...authKey(id), ...marshall({ ...record, hash }) },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      return undefined;
    }
    await this.#db.send(
      new PutItemCommand({ TableName: this.#table, Item: { ...listKey(tenant, id), ...marshall(record) } }),
    );
    return { id, tenant, name, created_at: now, limits };
  }

  async authenticate(key: string): Promise<Principal | undefined> {
    if (key.length < 16 || key.length > 256) return undefined;
    const hash = hashKey(key);
    // Consistent, so a revocation takes effect on the very next request.
    const res = await this.#db.send(
      new GetItemCommand({ TableName: this.#table, Key: authKey(KeyStore.idOf(key)), ConsistentRead: true }),
    );
    if (!res.Item) return undefined;
    const record = authRecord.safeParse(unmarshall(res.Item));
    if (!record.success || record.data.revoked_at !== undefined) return undefined;
    // The item was found by a 64-bit prefix of the hash; the whole hash must match, compared in constant time.
    const a = Buffer.from(record.data.hash, "hex");
    const b = Buffer.from(hash, "hex");
    if (a.length !== b.length || !timingSafeEqual(a, b)) return undefined;
    return { tenant: record.data.tenant, keyId: record.data.key_id, limits: record.data.limits ?? {} };
  }

  /** A tenant's keys, oldest first, revoked ones included. */
  async list(tenant: string): Promise<KeyInfo[]> {
    const out: KeyInfo[] = [];
    const listing = tenantApiKeysPrefix(tenant);
    let start: Record<string, AttributeValue> | undefined;
    do {
      const res = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
          ExpressionAttributeValues: marshall({ ":pk": listing.pk, ":prefix": listing.prefix }),
          ExclusiveStartKey: start,
        }),
      );
      out.push(...(res.Items ?? []).map(info));
      start = res.LastEvaluatedKey;
    } while (start);
    return out.sort((a, b) => a.created_at - b.created_at || a.id.localeCompare(b.id));
  }

  /** Revokes a key at once. Idempotent: a second call keeps the first revocation time. */
  async revoke(id: string, now = Date.now()): Promise<KeyInfo | undefined> {
    let revoked: KeyInfo;
    try {
      // The auth item first: from this write on, the key authenticates nothing.
      const res = await this.#db.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: authKey(id),
          UpdateExpression: "SET revoked_at = if_not_exists(revoked_at, :now)",
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeValues: marshall({ ":now": now }),
          ReturnValues: "ALL_NEW",
        }),
      );
      revoked = info(res.Attributes ?? {});
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined;
      throw err;
    }
    // A failure here leaves the listing stale, not the key usable; repeating the DELETE repairs it.
    try {
      await this.#db.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: listKey(revoked.tenant, id),
          UpdateExpression: "SET revoked_at = :at",
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeValues: marshall({ ":at": revoked.revoked_at }),
        }),
      );
    } catch (err) {
      // No listing item: its creation stopped after the auth item, so the key was never handed out.
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
    return revoked;
  }
}
