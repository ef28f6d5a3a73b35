import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import type { DeliveryAttempt, WebhookEvent } from "../jobs/model.ts";
import { jobKey } from "../layout/keys.ts";

/** Longest error text kept per attempt. */
const maxErrorChars = 200;

export interface AttemptResult {
  attempt: DeliveryAttempt;
  status: WebhookEvent["status"];
  nextAttemptAt?: number | undefined;
  reason?: string | undefined;
}

/**
 * Delivery progress of the events recorded on a job item (`webhook_events.<key>`). Conditional writes make
 * one attempt at a time: a lease before sending, and a record of the attempt only by the lease holder.
 */
export class WebhookEventStore {
  readonly #db: DynamoDBClient;
  readonly #table: string;

  constructor(db: DynamoDBClient, table: string) {
    this.#db = db;
    this.#table = table;
  }

  /** Takes the event for its attempt `attemptsMade + 1`. False when another delivery holds it or moved it on. */
  async lease(ref: EventRef, attemptsMade: number, now: number, leaseUntil: number): Promise<boolean> {
    return this.#update(ref, {
      update: "SET #e.lease_until = :lease",
      condition:
        "#e.#st = :pending AND #e.attempt_count = :made AND (attribute_not_exists(#e.lease_until) OR #e.lease_until < :now)",
      values: { ":lease": leaseUntil, ":pending": "pending", ":made": attemptsMade, ":now": now },
    });
  }

  /** Records an attempt made under the lease `leaseUntil`. False when the lease was lost meanwhile. */
  async record(ref: EventRef, attemptsMade: number, leaseUntil: number, result: AttemptResult) {
    const attempt = {
      ...result.attempt,
      ...(result.attempt.error !== undefined && { error: result.attempt.error.slice(0, maxErrorChars) }),
    };
    const finished = result.status !== "pending";
    return this.#update(ref, {
      update: `SET #e.#st = :status, #e.attempt_count = :count, #e.attempts = list_append(#e.attempts, :attempt)${
        finished ? ", #e.finished_at = :at" : ", #e.next_attempt_at = :next"
      }${result.reason !== undefined ? ", #e.reason = :reason" : ""} REMOVE #e.lease_until${
        finished ? ", #e.next_attempt_at" : ""
      }`,
      condition: "#e.#st = :pending AND #e.attempt_count = :made AND #e.lease_until = :lease",
      values: {
        ":status": result.status,
        ":count": attemptsMade + 1,
        ":attempt": [attempt],
        ":pending": "pending",
        ":made": attemptsMade,
        ":lease": leaseUntil,
        ...(finished ? { ":at": attempt.at } : { ":next": result.nextAttemptAt }),
        ...(result.reason !== undefined && { ":reason": result.reason }),
      },
    });
  }

  /** Ends an event without sending it (its endpoint is disabled), under the lease `leaseUntil`. */
  async skip(ref: EventRef, leaseUntil: number, reason: string, now: number): Promise<boolean> {
    return this.#update(ref, {
      update: "SET #e.#st = :skipped, #e.reason = :reason, #e.finished_at = :now REMOVE #e.lease_until",
      condition: "#e.#st = :pending AND #e.lease_until = :lease",
      values: {
        ":skipped": "skipped",
        ":reason": reason,
        ":now": now,
        ":pending": "pending",
        ":lease": leaseUntil,
      },
    });
  }

  async #update(
    ref: EventRef,
    expr: { update: string; condition: string; values: Record<string, unknown> },
  ): Promise<boolean> {
    try {
      await this.#db.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: marshall(jobKey(ref.tenant, ref.jobId)),
          // `#e` stands for webhook_events.<key>; `#st` for the reserved word `status`.
          UpdateExpression: expr.update.replaceAll("#e.", "webhook_events.#key."),
          ConditionExpression: `attribute_exists(webhook_events.#key) AND ${expr.condition.replaceAll("#e.", "webhook_events.#key.")}`,
          ExpressionAttributeNames: {
            "#key": ref.key,
            ...(expr.update.includes("#st") || expr.condition.includes("#st") ? { "#st": "status" } : {}),
          },
          ExpressionAttributeValues: marshall(expr.values, { removeUndefinedValues: true }),
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }
}

export interface EventRef {
  tenant: string;
  jobId: string;
  /** The event's key on the job item (started, succeeded, ...). */
  key: string;
}
