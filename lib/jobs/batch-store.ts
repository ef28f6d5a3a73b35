import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import * as z from "zod/mini";
import { jobKey, openBatchesPartition, openBatchKey } from "../layout/keys.ts";
import type { BatchStatus, BatchSubmission } from "./batch.ts";
import type { Job } from "./model.ts";
import { parseJob } from "./store.ts";

// The batch lane's records in the jobs table. An open batch is an item under one partition, BATCH#open, that the
// poller queries (never a Scan); the job itself records its batch. The item is written before the job, so a crash
// between the two leaves an item the poller can still settle; it is deleted once its job has settled.

/** An open batch, as its item holds it; checked when read back (a trust boundary, as every item is). */
export const openBatch = z.object({
  batch_id: z.string(),
  tenant: z.string(),
  job_id: z.string(),
  submitted_at: z.number(),
});
export type OpenBatch = z.infer<typeof openBatch>;

export class BatchStore {
  readonly #db: DynamoDBClient;
  readonly #table: string;

  constructor(db: DynamoDBClient, table: string) {
    this.#db = db;
    this.#table = table;
  }

  /**
   * Records a submitted batch: its open item, then on the job (still running, by this attempt). Undefined when the
   * job moved on meanwhile (canceled): the poller then finds the item, sees the job settled and cancels the batch.
   */
  async open(job: Job, batch: BatchSubmission): Promise<Job | undefined> {
    const item: OpenBatch = {
      batch_id: batch.id,
      tenant: job.tenant,
      job_id: job.id,
      submitted_at: batch.submitted_at,
    };
    await this.#db.send(
      new PutItemCommand({ TableName: this.#table, Item: marshall({ ...openBatchKey(batch.id), ...item }) }),
    );
    return this.#updateRunning(job, "SET #b = :batch, updated_at = :now", "attempts = :attempt", {
      ":batch": batch,
      ":now": batch.submitted_at,
      ":attempt": job.attempts,
    });
  }

  /** Open batches, oldest first, up to `limit`. */
  async list(limit: number): Promise<OpenBatch[]> {
    const found: OpenBatch[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const res = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: marshall({ ":pk": openBatchesPartition }),
          Limit: limit - found.length,
          ...(start && { ExclusiveStartKey: start }),
        }),
      );
      for (const item of res.Items ?? []) {
        const parsed = openBatch.safeParse(unmarshall(item));
        // An item of another shape under this partition is not ours to settle; it is skipped, never guessed at.
        if (parsed.success) found.push(parsed.data);
      }
      start = res.LastEvaluatedKey;
    } while (start && found.length < limit);
    return found;
  }

  /** The batch's status as last seen, on its running job (only while the job still holds this batch). */
  async setStatus(job: Job, batchId: string, status: BatchStatus, now: number): Promise<void> {
    await this.#updateRunning(job, "SET #b.#s = :status, updated_at = :now", "#b.id = :id", {
      ":status": status,
      ":now": now,
      ":id": batchId,
    });
  }

  /**
   * Updates the job while it is still running and `condition` holds ("batch" is a reserved word in DynamoDB
   * expressions, hence #b). Undefined when it moved on meanwhile (canceled, settled, another attempt).
   */
  async #updateRunning(
    job: Job,
    update: string,
    condition: string,
    values: Record<string, unknown>,
  ): Promise<Job | undefined> {
    try {
      const res = await this.#db.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: marshall(jobKey(job.tenant, job.id)),
          UpdateExpression: update,
          ConditionExpression: `attribute_exists(pk) AND #s = :running AND ${condition}`,
          ExpressionAttributeNames: { "#s": "status", "#b": "batch" },
          ExpressionAttributeValues: marshall({ ...values, ":running": "running" }),
          ReturnValues: "ALL_NEW",
        }),
      );
      return parseJob(res.Attributes ?? {});
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined;
      throw err;
    }
  }

  /** Its job has settled: the batch is no longer polled. Deleting twice is harmless. */
  async close(batchId: string): Promise<void> {
    await this.#db.send(
      new DeleteItemCommand({ TableName: this.#table, Key: marshall(openBatchKey(batchId)) }),
    );
  }
}
