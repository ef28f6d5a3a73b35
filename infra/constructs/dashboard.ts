import { Duration } from "aws-cdk-lib";
import {
  Dashboard as CloudWatchDashboard,
  GraphWidget,
  MathExpression,
  SingleValueWidget,
  Stats,
  TextWidget,
} from "aws-cdk-lib/aws-cloudwatch";
import type { Topic } from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";
import type { MetricName } from "../../lib/metrics.ts";
import type { StackSettings } from "../settings.ts";
import { businessMetric, fiveMinutes, type WatchedResources } from "./alarms.ts";
import { StackPart } from "./part.ts";

export interface DashboardProps extends WatchedResources {
  settings: StackSettings;
  /** The alarms' topic, named on the dashboard. */
  topic: Topic;
}

/** One CloudWatch dashboard: jobs, latency, the HTTP API, the queues and each function. */
export class Dashboard extends StackPart {
  constructor(scope: Construct, id: string, props: DashboardProps) {
    super(scope, id);
    const { settings: s, queues, deadLetterQueues, functions, httpApi, topic } = props;
    const business = (name: MetricName, service: string, statistic: string) =>
      businessMetric(s, name, service, statistic);
    const jobsFailed = new MathExpression({
      expression: "FILL(w, 0) + FILL(d, 0) + FILL(n, 0)",
      usingMetrics: {
        w: business("JobsFailed", "worker", Stats.SUM),
        d: business("JobsFailed", "dlq", Stats.SUM),
        // Uploads that became failed jobs at intake (bad metadata, not an image).
        n: business("JobsFailed", "inbox", Stats.SUM),
      },
      label: "JobsFailed",
      period: fiveMinutes,
    });
    const jobsCreated = new MathExpression({
      expression: "FILL(a, 0) + FILL(i, 0)",
      usingMetrics: {
        a: business("JobsCreated", "api", Stats.SUM),
        i: business("JobsCreated", "inbox", Stats.SUM),
      },
      label: "JobsCreated",
      period: fiveMinutes,
    });
    const dashboard = new CloudWatchDashboard(this, "Dashboard", { dashboardName: `image-jobs-${s.stage}` });
    dashboard.addWidgets(
      new TextWidget({
        markdown: `# image-jobs ${s.stage}\nJobs, latency, queues and functions. Alarms notify the SNS topic ${topic.topicName}.`,
        width: 24,
        height: 2,
      }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: "Jobs",
        left: [jobsCreated, business("JobsSucceeded", "worker", Stats.SUM), jobsFailed],
        width: 8,
      }),
      new GraphWidget({
        title: "Latency (ms)",
        left: [
          business("EndToEndLatency", "worker", Stats.p(50)),
          business("EndToEndLatency", "worker", Stats.p(90)),
          business("ProviderLatency", "worker", Stats.p(50)),
          business("ProviderLatency", "worker", Stats.p(90)),
        ],
        width: 8,
      }),
      new SingleValueWidget({
        title: "Images produced",
        metrics: [business("ImagesProduced", "worker", Stats.SUM)],
        width: 8,
      }),
    );
    const minute = Duration.minutes(1);
    dashboard.addWidgets(
      new GraphWidget({
        title: "HTTP API",
        left: [httpApi.metricCount({ period: fiveMinutes })],
        right: [
          httpApi.metricClientError({ period: fiveMinutes }),
          httpApi.metricServerError({ period: fiveMinutes }),
        ],
        width: 8,
      }),
      new GraphWidget({
        title: "Queues: visible messages",
        left: Object.entries(queues).map(([name, q]) =>
          q.metricApproximateNumberOfMessagesVisible({ period: minute, label: name }),
        ),
        right: Object.entries(deadLetterQueues).map(([name, q]) =>
          q.metricApproximateNumberOfMessagesVisible({ period: minute, label: `${name} DLQ` }),
        ),
        width: 8,
      }),
      new GraphWidget({
        title: "Queues: age of oldest message (s)",
        left: Object.entries(queues).map(([name, q]) =>
          q.metricApproximateAgeOfOldestMessage({ period: minute, label: name }),
        ),
        width: 8,
      }),
    );
    dashboard.addWidgets(
      ...[...functions].map(
        ([id, fn]) =>
          new GraphWidget({
            title: `${id}: errors, throttles, duration`,
            left: [fn.metricErrors({ period: fiveMinutes }), fn.metricThrottles({ period: fiveMinutes })],
            right: [fn.metricDuration({ period: fiveMinutes, statistic: Stats.p(90) })],
            width: 6,
          }),
      ),
    );
  }
}
