import { join } from "node:path";
import { type CfnResource, Duration, type RemovalPolicy, Stack } from "aws-cdk-lib";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import {
  ApplicationLogLevel,
  Architecture,
  LoggingFormat,
  Runtime,
  SystemLogLevel,
  Tracing,
} from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import { projectRoot } from "../bundling.ts";
import {
  commonEnvironment,
  type DataResources,
  type FunctionSpec,
  keyShapes,
  type QueueName,
} from "../functions.ts";
import type { StackSettings } from "../settings.ts";
import { functionBundling } from "./function-bundling.ts";
import { acknowledge } from "./part.ts";

export interface ServiceFunctionsProps {
  settings: StackSettings;
  specs: readonly FunctionSpec[];
  resources: DataResources;
  entryExists: (entry: string) => boolean;
  /** What a stack deletion does to the functions' log groups. */
  removalPolicy: RemovalPolicy;
}

const nodeRuntimeReason =
  "Node.js 22, the runtime the sandbox and the tests run on (node@22 in devDependencies): the two move together.";
const xrayReason =
  "Active tracing: X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level permissions.";

/**
 * Makes the functions of infra/functions.ts, each in the part that owns it: its log group, its own role with the
 * spec's exact grants, the bundle, and its queue trigger. A function whose entry file is missing is skipped.
 */
export class ServiceFunctions {
  readonly skipped: string[] = [];
  readonly #made = new Map<string, NodejsFunction>();
  readonly #environment: Record<string, string>;
  readonly #props: ServiceFunctionsProps;

  constructor(props: ServiceFunctionsProps) {
    this.#props = props;
    this.#environment = commonEnvironment(props.settings, props.resources);
  }

  /**
   * Every function, in the order of their specs (the alarms and the dashboard list them so). Fails when a spec
   * was made by no part: a function added to infra/functions.ts needs a part of the stack to make it.
   */
  all(): Map<string, NodejsFunction> {
    const unmade = this.#props.specs.filter(
      (spec) => !this.#made.has(spec.id) && !this.skipped.includes(spec.id),
    );
    if (unmade.length > 0)
      throw new Error(`No part of the stack makes the function ${unmade.map((spec) => spec.id).join(", ")}`);
    return new Map(this.#props.specs.flatMap((spec) => this.#entry(spec.id)));
  }

  /** The function of spec `id` if a part has made it (a part that wires another's function comes after it). */
  get(id: string): NodejsFunction | undefined {
    return this.#made.get(id);
  }

  #entry(id: string): [string, NodejsFunction][] {
    const fn = this.#made.get(id);
    return fn ? [[id, fn]] : [];
  }

  /** The function of spec `id`, in `scope`; undefined when the settings leave it out or its entry is missing. */
  make(scope: Construct, id: string): NodejsFunction | undefined {
    const { settings: s, resources } = this.#props;
    const spec = this.#props.specs.find((f) => f.id === id);
    if (!spec) return undefined;
    if (!this.#props.entryExists(spec.entry)) {
      this.skipped.push(spec.id);
      return undefined;
    }
    const logGroup = new LogGroup(scope, `${spec.id}Logs`, {
      retention: s.logRetentionDays as RetentionDays,
      removalPolicy: this.#props.removalPolicy,
    });
    // Its own role, without AWSLambdaBasicExecutionRole (logs in any group): it writes to its log group only.
    const role = new Role(scope, `${spec.id}Role`, {
      assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
      description: `image-jobs ${s.stage} ${spec.id} function`,
    });
    logGroup.grantWrite(role);
    const fn = new NodejsFunction(scope, spec.id, {
      role,
      entry: join(projectRoot, spec.entry),
      projectRoot,
      depsLockFilePath: join(projectRoot, "package-lock.json"),
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: spec.memoryMb,
      timeout: Duration.seconds(spec.timeoutSeconds),
      ...(spec.reservedConcurrency !== undefined && {
        reservedConcurrentExecutions: spec.reservedConcurrency,
      }),
      description: spec.description,
      logGroup,
      // Lambda's own lines (START, END, REPORT, errors) as JSON too. Lambda filters application lines by their
      // "level", and counts a line without one (EMF metrics) as INFO: the filter stays at INFO or below so metrics
      // are never dropped, and LOG_LEVEL does the rest.
      loggingFormat: LoggingFormat.JSON,
      applicationLogLevelV2: s.logLevel === "debug" ? ApplicationLogLevel.DEBUG : ApplicationLogLevel.INFO,
      systemLogLevelV2: SystemLogLevel.INFO,
      tracing: Tracing.ACTIVE,
      environment: {
        ...this.#environment,
        ...(spec.providerKey &&
          resources.providerKey && { OPENAI_API_KEY_SECRET_ARN: resources.providerKey.secretArn }),
        ...(spec.routesProviders && s.openaiEnabled && { OPENAI_ENABLED: "true" }),
        ...(spec.adminKey && { ADMIN_API_KEY_SECRET_ARN: resources.adminKey.secretArn }),
        ...spec.environment,
      },
      bundling: functionBundling(spec),
    });
    spec.grant(fn, resources);
    acknowledge(fn, "AwsSolutions-L1", nodeRuntimeReason);
    acknowledge(role, "AwsSolutions-IAM5[Resource::*]", xrayReason);
    const bucketArn = `<${Stack.of(scope).getLogicalId(resources.bucket.node.defaultChild as CfnResource)}.Arn>`;
    for (const shape of Object.values(keyShapes))
      acknowledge(
        role,
        `AwsSolutions-IAM5[Resource::${bucketArn}/${shape}]`,
        "Objects of one key shape (tenant, job and file names are only known at run time). Each function gets the " +
          "shapes and actions its code uses, and no bucket-wide action; test/infra/grants.test.ts proves it.",
      );
    if (spec.trigger) {
      const [name, dlq] = spec.trigger.queue.endsWith("Dlq")
        ? [spec.trigger.queue.slice(0, -3) as QueueName, true]
        : [spec.trigger.queue as QueueName, false];
      fn.addEventSource(
        new SqsEventSource(dlq ? resources.deadLetterQueues[name] : resources.queues[name], {
          batchSize: spec.trigger.batchSize,
          reportBatchItemFailures: true,
          ...(spec.trigger.maxConcurrency !== undefined && { maxConcurrency: spec.trigger.maxConcurrency }),
        }),
      );
    }
    this.#made.set(spec.id, fn);
    return fn;
  }
}
