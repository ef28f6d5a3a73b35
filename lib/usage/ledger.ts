import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import * as z from "zod/mini";
import { toMicroUsd } from "../catalog/prices.ts";
import type { Job } from "../jobs/model.ts";
import type { UsageRecorder } from "../jobs/ports/usage.ts";
import { usageDateRange, usageDayKey, usageMonthKey, usagePartition } from "../layout/keys.ts";

// One counter item per tenant, UTC day, operation and model, in the tenant's own partition:
//   USAGE#{tenant} / {date}#{operation}#{model}
// so a date range is one Query, and no item is shared between tenants. Beside them, the month's spend, which
// budgets read (lib/usage/budget.ts):
//   USAGE#{tenant} / MONTH#{yyyy-mm}
// Costs are counted in micro-dollars: integer ADDs, so concurrent jobs never lose or round a cent.

const usageRow = z.object({
  date: z.string(),
  operation: z.string(),
  model: z.string(),
  jobs: z.number(),
  images: z.number(),
  input_tokens: z.optional(z.number()),
  output_tokens: z.optional(z.number()),
  cost_micro_usd: z.optional(z.number()),
});
export type UsageRow = z.infer<typeof usageRow>;

const monthRow = z.object({ cost_micro_usd: z.optional(z.number()) });

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export class UsageLedger implements UsageRecorder {
  readonly #db: DynamoDBClient;
  readonly #table: string;

  constructor(db: DynamoDBClient, table: string) {
    this.#db = db;
    this.#table = table;
  }

  async recordSuccess(job: Job, now = Date.now()): Promise<void> {
    const date = utcDay(now);
    // The model that made the images: a fallback's, when the job's own provider was down.
    const model = job.output?.images[0]?.model ?? job.model;
    const counts: Record<string, number> = {
      ":jobs": 1,
      ":images": job.output?.images.length ?? 0,
      ...(job.usage?.input_tokens !== undefined && { ":in": job.usage.input_tokens }),
      ...(job.usage?.output_tokens !== undefined && { ":out": job.usage.output_tokens }),
      ...(job.cost_usd !== undefined && { ":cost": toMicroUsd(job.cost_usd) }),
    };
    const adds = [
      "jobs :jobs",
      "images :images",
      ...(":in" in counts ? ["input_tokens :in"] : []),
      ...(":out" in counts ? ["output_tokens :out"] : []),
      ...(":cost" in counts ? ["cost_micro_usd :cost"] : []),
    ];
    await this.#db.send(
      new UpdateItemCommand({
        TableName: this.#table,
        Key: marshall(usageDayKey(job.tenant, date, job.operation, model)),
        UpdateExpression: `SET #date = :date, #op = :op, #model = :model ADD ${adds.join(", ")}`,
        ExpressionAttributeNames: { "#date": "date", "#op": "operation", "#model": "model" },
        ExpressionAttributeValues: marshall({
          ":date": date,
          ":op": job.operation,
          ":model": model,
          ...counts,
        }),
      }),
    );
    if (job.cost_usd === undefined) return;
    // The month's spend, for budgets: in the tenant's own partition, so tenants never contend for one item.
    await this.#db.send(
      new UpdateItemCommand({
        TableName: this.#table,
        Key: marshall(usageMonthKey(job.tenant, now)),
        UpdateExpression: "ADD cost_micro_usd :cost, jobs :jobs",
        ExpressionAttributeValues: marshall({ ":cost": toMicroUsd(job.cost_usd), ":jobs": 1 }),
      }),
    );
  }

  /** What the tenant has spent in the UTC month of `now`, in micro-USD (consistent read). */
  async monthSpentMicroUsd(tenant: string, now = Date.now()): Promise<number> {
    const res = await this.#db.send(
      new GetItemCommand({
        TableName: this.#table,
        Key: marshall(usageMonthKey(tenant, now)),
        ConsistentRead: true,
      }),
    );
    const item = res.Item ? monthRow.parse(unmarshall(res.Item)) : undefined;
    return item?.cost_micro_usd ?? 0;
  }

  /** Rows for `from`..`to` (UTC dates, inclusive), by date, then operation, then model. */
  async report(tenant: string, from: string, to: string): Promise<UsageRow[]> {
    const rows: UsageRow[] = [];
    const range = usageDateRange(from, to);
    let start: Record<string, AttributeValue> | undefined;
    do {
      const res = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: "pk = :pk AND sk BETWEEN :from AND :to",
          ExpressionAttributeValues: marshall({
            ":pk": usagePartition(tenant),
            ":from": range.from,
            ":to": range.to,
          }),
          ExclusiveStartKey: start,
        }),
      );
      for (const item of res.Items ?? []) rows.push(usageRow.parse(unmarshall(item)));
      start = res.LastEvaluatedKey;
    } while (start);
    return rows;
  }
}
