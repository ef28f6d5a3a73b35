import { createHash } from "node:crypto";
import {
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { disabledWebhookKey } from "../layout/keys.ts";

const keyOf = (tenant: string, url: string) =>
  marshall(disabledWebhookKey(tenant, createHash("sha256").update(url).digest("hex")));

/**
 * Endpoints that answered 410 Gone: Standard Webhooks says to stop sending to them. Per tenant and URL;
 * later events to a disabled URL are recorded as skipped until the tenant enables it again.
 */
export class DisabledEndpoints {
  readonly #db: DynamoDBClient;
  readonly #table: string;

  constructor(db: DynamoDBClient, table: string) {
    this.#db = db;
    this.#table = table;
  }

  async isDisabled(tenant: string, url: string): Promise<boolean> {
    const res = await this.#db.send(
      new GetItemCommand({ TableName: this.#table, Key: keyOf(tenant, url), ConsistentRead: true }),
    );
    return res.Item !== undefined;
  }

  async disable(tenant: string, url: string, why: { jobId: string; eventId: string }, now: number) {
    await this.#db.send(
      new PutItemCommand({
        TableName: this.#table,
        Item: {
          ...keyOf(tenant, url),
          ...marshall({ url, disabled_at: now, job_id: why.jobId, webhook_id: why.eventId }),
        },
      }),
    );
  }

  /** True when the URL was disabled. */
  async enable(tenant: string, url: string): Promise<boolean> {
    const res = await this.#db.send(
      new DeleteItemCommand({ TableName: this.#table, Key: keyOf(tenant, url), ReturnValues: "ALL_OLD" }),
    );
    return res.Attributes !== undefined;
  }
}
