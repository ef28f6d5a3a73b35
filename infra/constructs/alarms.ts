import { CfnOutput, Duration } from "aws-cdk-lib";
import type { HttpApi } from "aws-cdk-lib/aws-apigatewayv2";
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  MathExpression,
  Metric,
  Stats,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import type { Queue } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import type { MetricName } from "../../lib/metrics.ts";
import { metricsNamespace, type QueueName } from "../functions.ts";
import type { StackSettings } from "../settings.ts";
import { StackPart } from "./part.ts";

/** What the alarms and the dashboard watch. */
export interface WatchedResources {
  queues: Record<QueueName, Queue>;
  deadLetterQueues: Record<QueueName, Queue>;
  /** By construct id, in the order of their specs. */
  functions: ReadonlyMap<string, IFunction>;
  httpApi: HttpApi;
}

export interface AlarmsProps extends WatchedResources {
  settings: StackSettings;
}

export const fiveMinutes = Duration.minutes(5);

/** EMF metrics carry the service name lib/runtime.ts gives each handler: api, worker, dlq, webhooks, inbox. */
export const businessMetric = (s: StackSettings, name: MetricName, service: string, statistic: string) =>
  new Metric({
    namespace: metricsNamespace(s),
    metricName: name,
    dimensionsMap: { service },
    statistic,
    period: fiveMinutes,
  });

/** Alarms on dead letters, queue age, function errors and throttles, 5xx and rejected uploads, to an SNS topic. */
export class Alarms extends StackPart {
  readonly topic: Topic;

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    const { settings: s, queues, deadLetterQueues, functions, httpApi } = props;
    this.topic = new Topic(this, "Alarms", { displayName: `image-jobs ${s.stage} alarms`, enforceSSL: true });
    if (s.alarmEmail) this.topic.addSubscription(new EmailSubscription(s.alarmEmail));
    const alarm = (id: string, metric: IMetric, threshold: number, description: string) => {
      const a = new Alarm(this, id, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      a.addAlarmAction(new SnsAction(this.topic));
      a.addOkAction(new SnsAction(this.topic));
    };
    for (const [name, dlq] of Object.entries(deadLetterQueues)) {
      alarm(
        `${name}DlqDepth`,
        dlq.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: Stats.MAXIMUM,
        }),
        1,
        `Messages in the ${name} DLQ: deliveries that exhausted their retries. Inspect, fix, then redrive or purge.`,
      );
    }
    // The consumer empties the jobs DLQ within seconds, so its depth rarely shows; its arrivals do.
    alarm(
      "jobsDlqArrivals",
      deadLetterQueues.jobs.metricNumberOfMessagesReceived({ period: fiveMinutes, statistic: Stats.SUM }),
      1,
      "Jobs were abandoned after exhausting their attempts (failed with retries_exhausted). Check the worker's errors and timeouts.",
    );
    const oldestAgeMinutes: Record<QueueName, number> = { jobs: 15, webhooks: 30, inbox: 15 };
    for (const [name, q] of Object.entries(queues) as [QueueName, Queue][]) {
      alarm(
        `${name}QueueAge`,
        q.metricApproximateAgeOfOldestMessage({ period: fiveMinutes, statistic: Stats.MAXIMUM }),
        oldestAgeMinutes[name] * 60,
        `The oldest message in the ${name} queue waited over ${oldestAgeMinutes[name]} minutes: consumers are failing, throttled or capped too low.`,
      );
    }
    for (const [id, fn] of functions) {
      alarm(
        `${id}Errors`,
        fn.metricErrors({ period: fiveMinutes, statistic: Stats.SUM }),
        1,
        `${id} function invocations failed (uncaught errors, timeouts or init failures).`,
      );
      alarm(
        `${id}Throttles`,
        fn.metricThrottles({ period: fiveMinutes, statistic: Stats.SUM }),
        1,
        `${id} function invocations were throttled: account concurrency is exhausted.`,
      );
    }
    // A rate, not a count: a synchronous request that outlives its wait answers 504 job_pending by design,
    // and a busy API sees a few of those without anything being wrong.
    alarm(
      "Api5xx",
      new MathExpression({
        expression: "IF(requests >= 20, 100 * errors / requests, 0)",
        usingMetrics: {
          errors: httpApi.metricServerError({ period: fiveMinutes, statistic: Stats.SUM }),
          requests: httpApi.metricCount({ period: fiveMinutes, statistic: Stats.SUM }),
        },
        label: "5xx %",
        period: fiveMinutes,
      }),
      5,
      "Over 5% of HTTP API requests answered 5xx in 5 minutes (with at least 20 requests).",
    );
    // Uploads no job could be made for (no such tenant, a key outside inbox/{tenant}/): nobody else would see them.
    alarm(
      "InboxRejected",
      businessMetric(s, "InboxRejected", "inbox", Stats.SUM),
      1,
      "Uploads under inbox/ were rejected (unknown tenant, key outside inbox/{tenant}/, or not an S3 event). The inbox function's logs name each object.",
    );
    new CfnOutput(this, "AlarmTopicArn", { value: this.topic.topicArn });
  }
}
