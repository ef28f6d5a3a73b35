import { Duration } from "aws-cdk-lib";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import type { QueueName, queuePolicies } from "../functions.ts";
import { StackPart } from "./part.ts";

export interface QueuesProps {
  /** Each queue's visibility timeout and receives before its DLQ (infra/functions.ts). */
  policies: ReturnType<typeof queuePolicies>;
}

/** The work queues (jobs, webhooks, inbox), each with its dead-letter queue. */
export class Queues extends StackPart {
  readonly work: Record<QueueName, Queue>;
  readonly deadLetter: Record<QueueName, Queue>;

  constructor(scope: Construct, id: string, { policies }: QueuesProps) {
    super(scope, id);
    const queue = (
      id: string,
      visibilitySeconds: number,
      deadLetter?: { queue: Queue; maxReceiveCount: number },
    ) =>
      new Queue(this, id, {
        visibilityTimeout: Duration.seconds(visibilitySeconds),
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        ...(deadLetter
          ? { deadLetterQueue: deadLetter, retentionPeriod: Duration.days(4) }
          : { retentionPeriod: Duration.days(14) }),
      });
    this.deadLetter = {
      jobs: queue("JobsDlq", policies.dlq("jobs").visibilitySeconds),
      webhooks: queue("WebhooksDlq", policies.dlq("webhooks").visibilitySeconds),
      inbox: queue("InboxDlq", policies.dlq("inbox").visibilitySeconds),
    };
    const withDeadLetter = (name: QueueName) => ({
      queue: this.deadLetter[name],
      maxReceiveCount: policies[name].maxReceiveCount,
    });
    this.work = {
      jobs: queue("JobsQueue", policies.jobs.visibilitySeconds, withDeadLetter("jobs")),
      webhooks: queue("WebhooksQueue", policies.webhooks.visibilitySeconds, withDeadLetter("webhooks")),
      inbox: queue("InboxQueue", policies.inbox.visibilitySeconds, withDeadLetter("inbox")),
    };
  }
}
