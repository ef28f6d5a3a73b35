import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import { type Job, type JobError, type JobUsage, jobRecord, type StoredImage } from "./model.ts";

const keyOf = (tenant: string, id: string) => marshall({ pk: `T#${tenant}`, sk: `J#${id}` });

export class CorruptRecordError extends Error {
  override name = "CorruptRecordError";
}

export type ClaimResult = { claimed: true; job: Job } | { claimed: false; job: Job | undefined };

/**
 * Jobs in DynamoDB. Every status change is a conditional write, so redelivered messages,
 * racing workers and late results cannot move a job backwards or finish it twice.
 */
export class JobStore {
  readonly #db: DynamoDBClient;
  readonly #table: string;

  constructor(db: DynamoDBClient, table: string) {
    this.#db = db;
    this.#table = table;
  }

  async create(job: Job): Promise<void> {
    await this.#db.send(
      new PutItemCommand({
        TableName: this.#table,
        Item: { ...keyOf(job.tenant, job.id), ...marshall(job, { removeUndefinedValues: true }) },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
  }

  async get(tenant: string, id: string, consistent = false): Promise<Job | undefined> {
    const res = await this.#db.send(
      new GetItemCommand({ TableName: this.#table, Key: keyOf(tenant, id), ConsistentRead: consistent }),
    );
    return res.Item ? parseJob(res.Item) : undefined;
  }

  /** queued → running, or takes over a running job whose worker's lease has expired (it died). */
  async claim(tenant: string, id: string, now: number, leaseMs: number): Promise<ClaimResult> {
    try {
      const res = await this.#db.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: keyOf(tenant, id),
          UpdateExpression:
            "SET #s = :running, started_at = if_not_exists(started_at, :now), updated_at = :now, lease_until = :lease ADD attempts :one",
          ConditionExpression:
            "attribute_exists(pk) AND (#s = :queued OR (#s = :running AND lease_until < :now))",
          ExpressionAttributeNames: { "#s": "status" },
          ExpressionAttributeValues: marshall({
            ":running": "running",
            ":queued": "queued",
            ":now": now,
            ":lease": now + leaseMs,
            ":one": 1,
          }),
          ReturnValues: "ALL_NEW",
        }),
      );
      return { claimed: true, job: parseJob(res.Attributes ?? {}) };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      return { claimed: false, job: await this.get(tenant, id, true) };
    }
  }

  /** running → succeeded. False when the job left `running` meanwhile (canceled, or another worker won). */
  async succeed(
    job: Job,
    result: {
      images: StoredImage[];
      /** Recorded beside the images: kept sources, how a variation was made. */
      output?: Omit<NonNullable<Job["output"]>, "images"> | undefined;
      usage: JobUsage;
      provider: string;
      notice?: string | undefined;
    },
    now: number,
  ): Promise<boolean> {
    return this.#transition(job, ["running"], now, {
      status: "succeeded",
      finished_at: now,
      output: { ...result.output, images: result.images },
      usage: result.usage,
      provider: result.provider,
      ...(result.notice !== undefined && { notice: result.notice }),
    });
  }

  /** Any non-terminal state → failed. */
  async fail(job: Pick<Job, "tenant" | "id">, error: JobError, now: number): Promise<boolean> {
    return this.#transition(job, ["queued", "running"], now, { status: "failed", finished_at: now, error });
  }

  /** running → queued after a retryable fault; the message comes back later. */
  async requeue(job: Job, lastError: JobError, now: number): Promise<boolean> {
    return this.#transition(job, ["running"], now, {
      status: "queued",
      lease_until: 0,
      last_error: lastError,
    });
  }

  async #transition(
    job: Pick<Job, "tenant" | "id">,
    from: readonly string[],
    now: number,
    set: Record<string, unknown>,
  ): Promise<boolean> {
    const fields = { ...set, updated_at: now };
    const names: Record<string, string> = { "#s": "status" };
    const values: Record<string, unknown> = {};
    const assignments = Object.entries(fields).map(([k, v], i) => {
      names[`#f${i}`] = k;
      values[`:v${i}`] = v;
      return `#f${i} = :v${i}`;
    });
    const allowed = from.map((s, i) => {
      values[`:from${i}`] = s;
      return `:from${i}`;
    });
    try {
      await this.#db.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: keyOf(job.tenant, job.id),
          UpdateExpression: `SET ${assignments.join(", ")}`,
          ConditionExpression: `attribute_exists(pk) AND #s IN (${allowed.join(", ")})`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: marshall(values, { removeUndefinedValues: true }),
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }
}

function parseJob(item: Record<string, import("@aws-sdk/client-dynamodb").AttributeValue>): Job {
  const result = jobRecord.safeParse(unmarshall(item));
  if (!result.success)
    throw new CorruptRecordError("A job record in DynamoDB does not match the schema.", {
      cause: result.error,
    });
  return result.data;
}
