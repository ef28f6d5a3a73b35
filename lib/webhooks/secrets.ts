import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import * as z from "zod/mini";
import { Conflict } from "../jobs/errors.ts";
import { CorruptRecordError } from "../jobs/store.ts";
import { webhookSecretKey } from "../layout/keys.ts";
import { newSecret } from "./signing.ts";

const secretRecord = z.object({
  secret: z.string(),
  created_at: z.number(),
  previous: z.optional(z.string()),
  previous_expires_at: z.optional(z.number()),
});
export type WebhookSecret = z.infer<typeof secretRecord>;

const keyOf = (tenant: string) => marshall(webhookSecretKey(tenant));

/**
 * One signing secret per tenant, made on first use. A rotation keeps the previous secret for an overlap window,
 * during which deliveries carry both signatures, so receivers can switch without dropping a message.
 */
export class WebhookSecrets {
  readonly #db: DynamoDBClient;
  readonly #table: string;
  readonly #overlapMs: number;
  readonly #now: () => number;

  constructor(db: DynamoDBClient, table: string, overlapMs: number, now: () => number = Date.now) {
    this.#db = db;
    this.#table = table;
    this.#overlapMs = overlapMs;
    this.#now = now;
  }

  /** The tenant's secret; the first call makes it. Concurrent first calls agree on one (conditional put). */
  async get(tenant: string): Promise<WebhookSecret> {
    const found = await this.#read(tenant);
    if (found) return this.#visible(found);
    const created: WebhookSecret = { secret: newSecret(), created_at: this.#now() };
    try {
      await this.#db.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: { ...keyOf(tenant), ...marshall(created) },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
      return created;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const winner = await this.#read(tenant);
      if (!winner) throw err;
      return this.#visible(winner);
    }
  }

  /** A new current secret; the old one keeps signing until the overlap ends. */
  async rotate(tenant: string): Promise<WebhookSecret> {
    const old = await this.get(tenant);
    const now = this.#now();
    const rotated: WebhookSecret = {
      secret: newSecret(),
      created_at: now,
      previous: old.secret,
      previous_expires_at: now + this.#overlapMs,
    };
    try {
      await this.#db.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: keyOf(tenant),
          UpdateExpression:
            "SET secret = :secret, created_at = :now, previous = :previous, previous_expires_at = :expires",
          ConditionExpression: "secret = :previous",
          ExpressionAttributeValues: marshall({
            ":secret": rotated.secret,
            ":now": now,
            ":previous": old.secret,
            ":expires": rotated.previous_expires_at,
          }),
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      throw new Conflict("The webhook secret was rotated by another request just now. GET it instead.", {
        code: "rotation_conflict",
        cause: err,
      });
    }
    return rotated;
  }

  /** The secrets that sign a delivery now: the current one, and the previous one during its overlap. */
  async signing(tenant: string): Promise<string[]> {
    const s = await this.get(tenant);
    return s.previous ? [s.secret, s.previous] : [s.secret];
  }

  async #read(tenant: string): Promise<WebhookSecret | undefined> {
    const res = await this.#db.send(
      new GetItemCommand({ TableName: this.#table, Key: keyOf(tenant), ConsistentRead: true }),
    );
    if (!res.Item) return undefined;
    const parsed = secretRecord.safeParse(unmarshall(res.Item));
    if (!parsed.success) throw new CorruptRecordError("A webhook secret record does not match the schema.");
    return parsed.data;
  }

  /** Drops a previous secret whose overlap has ended. */
  #visible(s: WebhookSecret): WebhookSecret {
    if (s.previous_expires_at !== undefined && s.previous_expires_at > this.#now()) return s;
    return { secret: s.secret, created_at: s.created_at };
  }
}
