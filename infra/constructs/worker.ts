import type { Table } from "aws-cdk-lib/aws-dynamodb";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { Queue } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { limiterActions } from "../../lib/limits/provider-rate.ts";
import { providerRateLimitsOf, type StackSettings } from "../settings.ts";
import { StackPart } from "./part.ts";
import type { ServiceFunctions } from "./service-function.ts";

export interface WorkerProps {
  settings: StackSettings;
  functions: ServiceFunctions;
  table: Table;
  jobsQueue: Queue;
}

/** Runs jobs from the jobs queue (Worker), and fails the jobs whose messages reached its DLQ (DeadLetters). */
export class Worker extends StackPart {
  constructor(scope: Construct, id: string, { settings: s, functions, table, jobsQueue }: WorkerProps) {
    super(scope, id);
    const worker = functions.make(this, "Worker");
    functions.make(this, "DeadLetters");
    // The shared provider limiter (issue 16, docs/scale.md): the worker counts provider keys' use in the jobs table
    // (items PRL#{provider}#{key}, expired by the table's TTL) and, when no key has room, sends the job's message
    // again with a delay. Only the worker does either, and only it reads the secrets of pooled keys that have their
    // own (one secret per key, read once per cold start).
    if (worker && s.providerRateLimits !== undefined) {
      worker.addEnvironment("PROVIDER_RATE_LIMITS", s.providerRateLimits);
      // On the table only: Table.grant would add its indexes too, which the limiter never reads.
      worker.addToRolePolicy(
        new PolicyStatement({ actions: [...limiterActions], resources: [table.tableArn] }),
      );
      jobsQueue.grantSendMessages(worker);
      const keySecrets = Object.values(providerRateLimitsOf(s.providerRateLimits))
        .flat()
        .flatMap((k) => (k.api_key_secret_arn ? [k.api_key_secret_arn] : []));
      if (keySecrets.length > 0)
        worker.addToRolePolicy(
          new PolicyStatement({ actions: ["secretsmanager:GetSecretValue"], resources: keySecrets }),
        );
    }
  }
}
