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
import { jobKey, jobStatusKey, statusIndex } from "../layout/keys.ts";
import { eventForStatus, eventKey, newEvent } from "./events.ts";
import {
  type Job,
  type JobError,
  type JobStatus,
  type JobUsage,
  jobRecord,
  type PartialImage,
  type StoredImage,
} from "./model.ts";

const keyOf = (tenant: string, id: string) => marshall(jobKey(tenant, id));

const statusPartition = (tenant: string, status: JobStatus) => jobStatusKey(tenant, status, "").gsi1pk;

export class CorruptRecordError extends Error {
  override name = "CorruptRecordError";
}

export type ClaimResult = { claimed: true; job: Job } | { claimed: false; job: Job | undefined };

export interface ListQuery {
  tenant: string;
  status?: JobStatus | undefined;
  operation?: string | undefined;
  /** Sort-key bounds from `jobRange` (lib/layout/keys.ts), both inclusive; job ids are time-ordered. */
  from: string;
  to: string;
  limit: number;
  /** Continue after this job id. */
  after?: string | undefined;
}

export interface ListPage {
  jobs: Job[];
  /** Where the next page starts (exclusive), when there may be more. */
  next: string | undefined;
}

/** A filtered page reads at most this many times before answering short, so a sparse filter stays fast. */
const maxFilteredReads = 5;

/**
 * Jobs in DynamoDB. Every status change is a conditional write, so redelivered messages,
 * racing workers and late results cannot move a job backwards or finish it twice. A transition that has a
 * webhook event records it in the same write (see lib/jobs/events.ts).
 */
export class JobStore {
  readonly #db: DynamoDBClient;
  readonly #table: string;

  constructor(db: DynamoDBClient, table: string) {
    this.#db = db;
    this.#table = table;
  }

  async create(job: Job): Promise<void> {
    const item = { ...job, ...(job.webhook && { webhook_events: job.webhook_events ?? {} }) };
    await this.#db.send(
      new PutItemCommand({
        TableName: this.#table,
        Item: {
          ...keyOf(job.tenant, job.id),
          ...marshall(
            { ...jobStatusKey(job.tenant, job.status, job.id), ...item },
            { removeUndefinedValues: true },
          ),
        },
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

  /**
   * queued → running, or takes over a running job whose worker's lease has expired (it died).
   * `job.started` is recorded once: a takeover keeps the event (and its delivery progress) it finds.
   */
  async claim(job: Job, now: number, leaseMs: number): Promise<ClaimResult> {
    const started = newEvent(job, "job.started", now);
    try {
      const res = await this.#db.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: keyOf(job.tenant, job.id),
          UpdateExpression: `SET #s = :running, gsi1pk = :partition, started_at = if_not_exists(started_at, :now), updated_at = :now, lease_until = :lease${started ? ", webhook_events.#ev = if_not_exists(webhook_events.#ev, :event)" : ""} ADD attempts :one`,
          ConditionExpression:
            "attribute_exists(pk) AND (#s = :queued OR (#s = :running AND lease_until < :now))",
          ExpressionAttributeNames: { "#s": "status", ...(started && { "#ev": eventKey(started.type) }) },
          ExpressionAttributeValues: marshall({
            ":running": "running",
            ":partition": statusPartition(job.tenant, "running"),
            ":queued": "queued",
            ":now": now,
            ":lease": now + leaseMs,
            ":one": 1,
            ...(started && { ":event": started }),
          }),
          ReturnValues: "ALL_NEW",
        }),
      );
      return { claimed: true, job: parseJob(res.Attributes ?? {}) };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      return { claimed: false, job: await this.get(job.tenant, job.id, true) };
    }
  }

  /** running → succeeded. Undefined when the job left `running` meanwhile (canceled, or another worker won). */
  async succeed(
    job: Job,
    result: {
      images: StoredImage[];
      /** Recorded beside the images: kept sources, how a variation was made. */
      output?: Omit<NonNullable<Job["output"]>, "images"> | undefined;
      usage: JobUsage;
      provider: string;
      notice?: string | undefined;
      cost_usd?: number | undefined;
      fallbacks?: Job["fallbacks"];
      provider_key?: string | undefined;
    },
    now: number,
  ): Promise<Job | undefined> {
    return this.#transition(job, ["running"], now, {
      ...(result.provider_key !== undefined && { provider_key: result.provider_key }),
      status: "succeeded",
      finished_at: now,
      output: { ...result.output, images: result.images },
      usage: result.usage,
      provider: result.provider,
      ...(result.notice !== undefined && { notice: result.notice }),
      ...(result.cost_usd !== undefined && { cost_usd: result.cost_usd }),
      ...(result.fallbacks !== undefined && { fallbacks: result.fallbacks }),
    });
  }

  /** Any non-terminal state → failed. */
  async fail(job: Job, error: JobError, now: number): Promise<Job | undefined> {
    return this.#transition(job, ["queued", "running"], now, { status: "failed", finished_at: now, error });
  }

  /**
   * queued or running → canceled (by request, or past its deadline). A queued job then never runs: claim
   * takes only `queued`; a running one loses its result: succeed takes only `running`.
   */
  async cancel(job: Job, reason: JobError, now: number): Promise<Job | undefined> {
    return this.#transition(job, ["queued", "running"], now, {
      status: "canceled",
      finished_at: now,
      error: reason,
    });
  }

  /** running → queued after a retryable fault; the message comes back later. */
  async requeue(job: Job, lastError: JobError, now: number): Promise<Job | undefined> {
    return this.#transition(job, ["running"], now, {
      status: "queued",
      lease_until: 0,
      last_error: lastError,
    });
  }

  /**
   * Records a partial image of a running job, once per (image, index), and only by the attempt that holds the
   * job: a canceled job or a worker that lost its lease adds nothing (undefined). Appended to a list, so every
   * reader sees the previews in the order they were recorded, a later read extending an earlier one; the id set
   * makes a retried write (the SDK's, after a lost response) a no-op.
   */
  async addPartial(job: Job, partial: PartialImage, now: number): Promise<Job | undefined> {
    try {
      const res = await this.#db.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: keyOf(job.tenant, job.id),
          UpdateExpression:
            "SET partials = list_append(if_not_exists(partials, :empty), :partial), updated_at = :now ADD partial_ids :ids",
          ConditionExpression:
            "attribute_exists(pk) AND #s = :running AND attempts = :attempt AND NOT contains(partial_ids, :id)",
          ExpressionAttributeNames: { "#s": "status" },
          ExpressionAttributeValues: marshall({
            ":empty": [],
            ":partial": [partial],
            ":now": now,
            ":ids": new Set([partialId(partial)]),
            ":id": partialId(partial),
            ":running": "running",
            ":attempt": partial.attempt,
          }),
          ReturnValues: "ALL_NEW",
        }),
      );
      return parseJob(res.Attributes ?? {});
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined;
      throw err;
    }
  }

  /** A tenant's jobs, newest first: a Query on the table (or, by status, on `gsi1`), never a Scan. */
  async list(q: ListQuery): Promise<ListPage> {
    const base = jobKey(q.tenant, "");
    const byStatus = q.status !== undefined;
    const partition = byStatus ? statusPartition(q.tenant, q.status as JobStatus) : base.pk;
    const filtered = q.operation !== undefined;
    const jobs: Job[] = [];
    let start: Record<string, AttributeValue> | undefined = q.after
      ? marshall({
          ...jobKey(q.tenant, q.after),
          ...(byStatus && jobStatusKey(q.tenant, q.status as JobStatus, q.after)),
        })
      : undefined;
    for (let read = 0; read < (filtered ? maxFilteredReads : 1); read++) {
      const res = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          ...(byStatus && { IndexName: statusIndex }),
          KeyConditionExpression: `#pk = :pk AND #sk BETWEEN :from AND :to`,
          ...(filtered && { FilterExpression: "#op = :op" }),
          ExpressionAttributeNames: {
            "#pk": byStatus ? "gsi1pk" : "pk",
            "#sk": byStatus ? "gsi1sk" : "sk",
            ...(filtered && { "#op": "operation" }),
          },
          ExpressionAttributeValues: marshall({
            ":pk": partition,
            ":from": q.from,
            ":to": q.to,
            ...(filtered && { ":op": q.operation }),
          }),
          ScanIndexForward: false,
          // One more than a page tells whether another page exists; a filter reads more, since it drops some.
          Limit: filtered ? Math.max(100, q.limit + 1) : q.limit + 1,
          ...(start && { ExclusiveStartKey: start }),
        }),
      );
      jobs.push(...(res.Items ?? []).map(parseJob));
      start = res.LastEvaluatedKey;
      if (jobs.length > q.limit || !start) break;
    }
    if (jobs.length > q.limit) {
      const page = jobs.slice(0, q.limit);
      return { jobs: page, next: page.at(-1)?.id };
    }
    // A filtered read that ran out of reads answers short, and goes on from where it stopped reading.
    const stoppedAt = start ? String(unmarshall(start).sk).slice(2) : undefined;
    return { jobs, next: stoppedAt };
  }

  async #transition(
    job: Job,
    from: readonly JobStatus[],
    now: number,
    set: Record<string, unknown> & { status: JobStatus },
  ): Promise<Job | undefined> {
    const fields = { ...set, gsi1pk: statusPartition(job.tenant, set.status), updated_at: now };
    const names: Record<string, string> = { "#s": "status" };
    const values: Record<string, unknown> = {};
    const assignments = Object.entries(fields).map(([k, v], i) => {
      names[`#f${i}`] = k;
      values[`:v${i}`] = v;
      return `#f${i} = :v${i}`;
    });
    const type = eventForStatus[set.status];
    const event = type ? newEvent(job, type, now) : undefined;
    if (event) {
      names["#ev"] = eventKey(event.type);
      values[":event"] = event;
      assignments.push("webhook_events.#ev = if_not_exists(webhook_events.#ev, :event)");
    }
    const allowed = from.map((s, i) => {
      values[`:from${i}`] = s;
      return `:from${i}`;
    });
    try {
      const res = await this.#db.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: keyOf(job.tenant, job.id),
          UpdateExpression: `SET ${assignments.join(", ")}`,
          ConditionExpression: `attribute_exists(pk) AND #s IN (${allowed.join(", ")})`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: marshall(values, { removeUndefinedValues: true }),
          ReturnValues: "ALL_NEW",
        }),
      );
      return parseJob(res.Attributes ?? {});
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined;
      throw err;
    }
  }
}

/** A partial image's identity: the output image it previews and its index. */
export const partialId = (p: Pick<PartialImage, "image" | "index">) => `${p.image}-${p.index}`;

export function parseJob(item: Record<string, AttributeValue>): Job {
  const result = jobRecord.safeParse(unmarshall(item));
  if (!result.success)
    throw new CorruptRecordError("A job record in DynamoDB does not match the schema.", {
      cause: result.error,
    });
  return result.data;
}
