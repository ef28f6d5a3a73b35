import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { type DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import * as z from "zod/mini";

export interface Principal {
  tenant: string;
  keyId: string;
}

const keyRecord = z.object({
  key_id: z.string(),
  tenant: z.string(),
  name: z.string(),
  hash: z.string(),
  created_at: z.number(),
  revoked_at: z.optional(z.number()),
});

export const tenantPattern = /^[a-z0-9][a-z0-9_-]{0,63}$/;

const hashKey = (key: string) => createHash("sha256").update(key).digest("hex");

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

  /** Stores a key (idempotently, for the sandbox's own key) and returns its id. */
  async put(key: string, tenant: string, name: string, now = Date.now()): Promise<string> {
    if (!tenantPattern.test(tenant)) throw new Error(`Invalid tenant name '${tenant}'`);
    const hash = hashKey(key);
    const keyId = `key_${hash.slice(0, 16)}`;
    await this.#db.send(
      new PutItemCommand({
        TableName: this.#table,
        Item: marshall({ pk: `K#${hash}`, sk: "KEY", key_id: keyId, tenant, name, hash, created_at: now }),
      }),
    );
    return keyId;
  }

  async authenticate(key: string): Promise<Principal | undefined> {
    if (key.length < 16 || key.length > 256) return undefined;
    const hash = hashKey(key);
    const res = await this.#db.send(
      new GetItemCommand({
        TableName: this.#table,
        Key: marshall({ pk: `K#${hash}`, sk: "KEY" }),
        ConsistentRead: true,
      }),
    );
    if (!res.Item) return undefined;
    const record = keyRecord.safeParse(unmarshall(res.Item));
    if (!record.success || record.data.revoked_at !== undefined) return undefined;
    // The lookup already matched; the constant-time compare guards against a record stored under the wrong key.
    const a = Buffer.from(record.data.hash, "hex");
    const b = Buffer.from(hash, "hex");
    if (a.length !== b.length || !timingSafeEqual(a, b)) return undefined;
    return { tenant: record.data.tenant, keyId: record.data.key_id };
  }
}
