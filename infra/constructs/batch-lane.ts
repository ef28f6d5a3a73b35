import { Duration } from "aws-cdk-lib";
import type { Table } from "aws-cdk-lib/aws-dynamodb";
import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import type { StackSettings } from "../settings.ts";
import type { ServiceFunctions } from "./service-function.ts";

// Priority lanes (issue 16, §3; docs/batch-lane.md). Jobs with priority "batch" queue apart, on a queue the worker
// serves through a second event source mapping whose MaximumConcurrency is low: a batch burst never takes the
// Lambda capacity interactive jobs need, and always progresses. With openaiBatchLane, batch-priority generations
// go through OpenAI's Batch API instead, and a scheduled poller settles them.

export interface BatchLaneProps {
  settings: StackSettings;
  /** The stack's functions: Api (and ApiLongWait) send to the lane, Worker serves it; this part makes BatchPoller. */
  functions: ServiceFunctions;
  table: Table;
  /** The jobs queue's dead-letter queue and delivery policy: the lane's messages are jobs like any other. */
  deadLetterQueue: Queue;
  visibilitySeconds: number;
  maxReceiveCount: number;
}

export class BatchLane extends Construct {
  readonly queue: Queue;
  readonly schedule: Rule | undefined;

  constructor(scope: Construct, id: string, props: BatchLaneProps) {
    super(scope, id);
    const s = props.settings;
    this.queue = new Queue(this, "Queue", {
      visibilityTimeout: Duration.seconds(props.visibilitySeconds),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: props.deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
      retentionPeriod: Duration.days(4),
    });
    const poller = props.functions.make(this, "BatchPoller");
    const worker = props.functions.get("Worker");
    if (!worker) throw new Error("The batch lane needs the Worker function");
    for (const fn of [props.functions.get("Api"), props.functions.get("ApiLongWait")]) {
      if (!fn) continue;
      fn.addEnvironment("BATCH_QUEUE_URL", this.queue.queueUrl);
      fn.addToRolePolicy(
        new PolicyStatement({ actions: ["sqs:SendMessage"], resources: [this.queue.queueArn] }),
      );
    }
    // Backoff of a retried batch job (ChangeMessageVisibility) is on its own queue; the mapping grants it too.
    worker.addEnvironment("BATCH_QUEUE_URL", this.queue.queueUrl);
    worker.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: s.workerBatchSize,
        reportBatchItemFailures: true,
        maxConcurrency: s.batchLaneMaxConcurrency,
      }),
    );

    if (!s.openaiBatchLane || !poller) return;
    // The worker records each submitted batch as an item the poller queries (BATCH#open).
    worker.addEnvironment("OPENAI_BATCH_LANE", "true");
    worker.addToRolePolicy(
      new PolicyStatement({ actions: ["dynamodb:PutItem"], resources: [props.table.tableArn] }),
    );
    this.schedule = new Rule(this, "PollSchedule", {
      description: "Polls OpenAI's Batch API for ended batches of the batch lane",
      schedule: Schedule.rate(Duration.minutes(s.batchPollMinutes)),
      targets: [new LambdaFunction(poller, { retryAttempts: 0 })],
    });
  }
}
