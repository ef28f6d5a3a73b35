import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  CfnOutput,
  type CfnResource,
  Duration,
  RemovalPolicy,
  SecretValue,
  Stack,
  type StackProps,
  Validations,
} from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import { CorsHttpMethod, HttpApi, HttpStage, LogGroupLogDestination } from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  SingleValueWidget,
  Stats,
  TextWidget,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from "aws-cdk-lib/aws-dynamodb";
import { PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import {
  ApplicationLogLevel,
  Architecture,
  FunctionUrlAuthType,
  HttpMethod,
  InvokeMode,
  LoggingFormat,
  Runtime,
  SystemLogLevel,
  Tracing,
} from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { LogLevel, NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  BucketNotificationDestinationType,
  EventType,
  HttpMethods,
  ObjectOwnership,
} from "aws-cdk-lib/aws-s3";
import { type ISecret, Secret } from "aws-cdk-lib/aws-secretsmanager";
import { Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import type { Construct, IConstruct } from "constructs";
import type { MetricName } from "../lib/metrics.ts";
import { unsetSecretValue } from "../lib/secrets.ts";
import { uploadRetentionDays } from "../lib/storage/uploads.ts";
import {
  apiReferenceCommand,
  bundleDefines,
  bundleTarget,
  esmRequireBanner,
  externalModules,
  mainFields,
  nativeModulesDir,
  projectRoot,
  sharpArm64Binary,
  sharpImportPattern,
} from "./bundling.ts";
import {
  type DataResources,
  functionSpecs,
  keyShapes,
  playgroundDirName,
  type QueueName,
  queuePolicies,
} from "./functions.ts";
import { bucketPrefixes, tableDefinition, tableKeys } from "./resources.ts";
import { addImageCdn, addProviderLimits } from "./scale.ts";
import { bedrockModelIds, type StackSettings, upstreamsOf } from "./settings.ts";
import { webDist } from "./web.ts";

/**
 * CORS for the API, when `apiCorsOrigins` is set. `*` does not cover Authorization (Fetch), so it is named; the
 * openai SDK also sends its own x-stainless-* headers, which `*` covers.
 */
const apiCorsAllowHeaders = ["authorization", "*"];
/** Response headers a page may read: the job behind a request, and the retry and idempotency answers. */
const apiCorsExposeHeaders = [
  "location",
  "x-job-id",
  "preference-applied",
  "idempotent-replayed",
  "retry-after",
  "x-should-retry",
  "x-request-id",
];

/** Keeps a cdk-nag finding with its reason (cdk-nag 3 reads CDK's own acknowledgements). */
function acknowledge(scope: IConstruct, rule: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `AwsSolutions::${rule}`, reason });
}

const nodeRuntimeReason =
  "Node.js 22, the runtime the sandbox and the tests run on (node@22 in devDependencies): the two move together.";
const xrayReason =
  "Active tracing: X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level permissions.";

export interface ImageJobsStackProps extends StackProps {
  settings: StackSettings;
  /** Function entries to leave out (their files are missing); reported by the app. Defaults to a file check. */
  entryExists?: (entry: string) => boolean;
}

/** The whole service in one stack: HTTP API, Lambda functions, SQS, DynamoDB, S3, the provider key, alarms. */
export class ImageJobsStack extends Stack {
  readonly functions = new Map<string, NodejsFunction>();
  readonly skipped: string[] = [];

  constructor(scope: Construct, id: string, props: ImageJobsStackProps) {
    super(scope, id, props);
    const s = props.settings;
    const entryExists = props.entryExists ?? ((entry: string) => existsSync(join(projectRoot, entry)));
    if (!existsSync(join(nativeModulesDir, sharpArm64Binary)))
      throw new Error(
        "sharp for linux-arm64 is missing from infra/native/node_modules. It is installed by `npm ci` " +
          "(postinstall); run `npm run native` to install it now.",
      );
    const retain = s.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const specs = functionSpecs(s);

    // --- Data ---------------------------------------------------------------------------------------------
    const definition = tableDefinition("unused");
    const attributeType = (name: string) =>
      definition.AttributeDefinitions?.find((a) => a.AttributeName === name)?.AttributeType === "N"
        ? AttributeType.NUMBER
        : AttributeType.STRING;
    const table = new Table(this, "Jobs", {
      partitionKey: { name: tableKeys.partitionKey, type: AttributeType.STRING },
      sortKey: { name: tableKeys.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      // Encrypted at rest with an AWS-owned key: no KMS charges, no key policy to manage.
      encryption: TableEncryption.DEFAULT,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: s.production,
      timeToLiveAttribute: tableKeys.ttl,
      removalPolicy: retain,
    });
    // The indexes come from the definition the sandbox creates, so both have the same ones.
    for (const index of definition.GlobalSecondaryIndexes ?? []) {
      const key = (type: "HASH" | "RANGE") => index.KeySchema?.find((k) => k.KeyType === type)?.AttributeName;
      const partition = key("HASH");
      const sort = key("RANGE");
      if (!index.IndexName || !partition) throw new Error("A table index needs a name and a partition key");
      table.addGlobalSecondaryIndex({
        indexName: index.IndexName,
        partitionKey: { name: partition, type: attributeType(partition) },
        ...(sort && { sortKey: { name: sort, type: attributeType(sort) } }),
        projectionType: ProjectionType.ALL,
      });
    }

    const corsOrigins = s.corsOrigins.split(",").map((o) => o.trim());
    const bucket = new Bucket(this, "Images", {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      encryption: BucketEncryption.S3_MANAGED,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Browsers fetch images straight from presigned URLs, and PUT uploads to them (POST /v1/uploads).
      cors: [
        {
          allowedMethods: [HttpMethods.GET, HttpMethods.HEAD, HttpMethods.PUT],
          allowedOrigins: corsOrigins,
          allowedHeaders: ["*"],
          exposedHeaders: ["ETag", "Content-Length", "Content-Type"],
          maxAge: 3600,
        },
      ],
      lifecycleRules: [
        { id: "abort-incomplete-uploads", abortIncompleteMultipartUploadAfter: Duration.days(1) },
        {
          id: "expire-sources",
          prefix: bucketPrefixes.sources,
          expiration: Duration.days(s.sourceRetentionDays),
        },
        {
          id: "expire-inbox",
          prefix: bucketPrefixes.inbox,
          expiration: Duration.days(s.sourceRetentionDays),
        },
        // Uploads that were never used (a used one was copied to sources/ already) go after a day.
        {
          id: "expire-uploads",
          prefix: bucketPrefixes.uploads,
          expiration: Duration.days(uploadRetentionDays),
        },
        ...(s.outputRetentionDays > 0
          ? [
              {
                id: "expire-outputs",
                prefix: bucketPrefixes.outputs,
                expiration: Duration.days(s.outputRetentionDays),
              },
            ]
          : []),
      ],
      // Images are the tenants' data: a stack deletion leaves the bucket.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const policies = queuePolicies(s, specs);
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
    const deadLetterQueues: Record<QueueName, Queue> = {
      jobs: queue("JobsDlq", policies.dlq("jobs").visibilitySeconds),
      webhooks: queue("WebhooksDlq", policies.dlq("webhooks").visibilitySeconds),
      inbox: queue("InboxDlq", policies.dlq("inbox").visibilitySeconds),
    };
    const queues: Record<QueueName, Queue> = {
      jobs: queue("JobsQueue", policies.jobs.visibilitySeconds, {
        queue: deadLetterQueues.jobs,
        maxReceiveCount: policies.jobs.maxReceiveCount,
      }),
      webhooks: queue("WebhooksQueue", policies.webhooks.visibilitySeconds, {
        queue: deadLetterQueues.webhooks,
        maxReceiveCount: policies.webhooks.maxReceiveCount,
      }),
      inbox: queue("InboxQueue", policies.inbox.visibilitySeconds, {
        queue: deadLetterQueues.inbox,
        maxReceiveCount: policies.inbox.maxReceiveCount,
      }),
    };
    // S3 may send to the inbox queue for this bucket in this account only (aws-s3-notifications' SqsDestination
    // checks the bucket alone, and grants more than SendMessage).
    bucket.addEventNotification(
      EventType.OBJECT_CREATED,
      {
        bind: () => {
          queues.inbox.addToResourcePolicy(
            new PolicyStatement({
              principals: [new ServicePrincipal("s3.amazonaws.com")],
              actions: ["sqs:SendMessage"],
              resources: [queues.inbox.queueArn],
              conditions: {
                ArnLike: { "aws:SourceArn": bucket.bucketArn },
                StringEquals: { "aws:SourceAccount": this.account },
              },
            }),
          );
          // The queue's construct holds its policy: S3 checks the policy when the notification is put.
          return {
            arn: queues.inbox.queueArn,
            type: BucketNotificationDestinationType.QUEUE,
            dependencies: [queues.inbox],
          };
        },
      },
      { prefix: bucketPrefixes.inbox },
    );

    const providerKey: ISecret | undefined = !s.openaiEnabled
      ? undefined
      : s.providerSecretArn
        ? Secret.fromSecretCompleteArn(this, "ProviderKey", s.providerSecretArn)
        : (new Secret(this, "ProviderKey", {
            description: `OpenAI API key for image-jobs (${s.stage}). Put the key itself as the secret string.`,
            // A marker, not a secret: the worker treats it as "no key yet" (lib/secrets.ts).
            secretStringValue: SecretValue.unsafePlainText(unsetSecretValue),
            removalPolicy: retain,
          }) as ISecret); // CDK's own types disagree under exactOptionalPropertyTypes (secretFullArn).

    // The admin key is generated here and never leaves Secrets Manager except into the API at cold start.
    const adminKey = new Secret(this, "AdminKey", {
      description: `Admin API key for image-jobs (${s.stage}): Authorization: Bearer <key> on /admin.`,
      generateSecretString: { passwordLength: 48, excludePunctuation: true, includeSpace: false },
      removalPolicy: retain,
    }) as ISecret;

    // --- Functions ----------------------------------------------------------------------------------------
    const bedrockModels = bedrockModelIds(s);
    const upstreams = s.openaiCompatibleUpstreams ? upstreamsOf(s.openaiCompatibleUpstreams) : [];
    const resources: DataResources = {
      table,
      bucket,
      queues,
      deadLetterQueues,
      providerKey,
      adminKey,
      bedrockModelArns: bedrockModels.map(
        (id) => `arn:${this.partition}:bedrock:${s.bedrockRegion}::foundation-model/${id}`,
      ),
      upstreamKeySecretArns: upstreams.flatMap((u) => (u.api_key_secret_arn ? [u.api_key_secret_arn] : [])),
    };
    const metricsNamespace = `ImageJobs/${s.stage}`;
    const common: Record<string, string> = {
      NODE_OPTIONS: "--enable-source-maps",
      JOBS_TABLE: table.tableName,
      IMAGES_BUCKET: bucket.bucketName,
      JOBS_QUEUE_URL: queues.jobs.queueUrl,
      WEBHOOKS_QUEUE_URL: queues.webhooks.queueUrl,
      JOB_MAX_ATTEMPTS: String(s.jobMaxAttempts),
      URL_TTL_SECONDS: String(s.urlTtlSeconds),
      PLACEHOLDER_FALLBACK: String(s.placeholderFallback),
      ...(s.defaultModel && { DEFAULT_MODEL: s.defaultModel }),
      LOG_FORMAT: "json",
      LOG_LEVEL: s.logLevel,
      METRICS_NAMESPACE: metricsNamespace,
      TRACING: "true",
      // Providers: the API routes and lists what the worker may call.
      ...(s.bedrockRegion && { BEDROCK_REGION: s.bedrockRegion, BEDROCK_MODELS: bedrockModels.join(",") }),
      ...(s.modelFallbacks && { MODEL_FALLBACKS: s.modelFallbacks }),
      ...(s.tenantDefaultModels && { TENANT_DEFAULT_MODELS: s.tenantDefaultModels }),
      ...(s.tenantMonthlyBudgetsUsd && { TENANT_MONTHLY_BUDGETS_USD: s.tenantMonthlyBudgetsUsd }),
      ...(s.tenantSourceFolders && { TENANT_SOURCE_FOLDERS: s.tenantSourceFolders }),
      ...(s.openaiCompatibleUpstreams && { OPENAI_COMPATIBLE_UPSTREAMS: s.openaiCompatibleUpstreams }),
    };
    for (const spec of specs) {
      if (!entryExists(spec.entry)) {
        this.skipped.push(spec.id);
        continue;
      }
      const logGroup = new LogGroup(this, `${spec.id}Logs`, {
        retention: s.logRetentionDays as RetentionDays,
        removalPolicy: retain,
      });
      // Its own role, without AWSLambdaBasicExecutionRole (logs in any group): it writes to its log group only.
      const role = new Role(this, `${spec.id}Role`, {
        assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
        description: `image-jobs ${s.stage} ${spec.id} function`,
      });
      logGroup.grantWrite(role);
      const fn = new NodejsFunction(this, spec.id, {
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
          ...common,
          ...(spec.providerKey && providerKey && { OPENAI_API_KEY_SECRET_ARN: providerKey.secretArn }),
          ...(spec.routesProviders && s.openaiEnabled && { OPENAI_ENABLED: "true" }),
          ...(spec.adminKey && { ADMIN_API_KEY_SECRET_ARN: adminKey.secretArn }),
          ...spec.environment,
        },
        bundling: {
          format: OutputFormat.ESM,
          target: bundleTarget,
          minify: true,
          sourceMap: true,
          // Stack traces map back to the TypeScript; the sources themselves need not ship.
          sourcesContent: false,
          externalModules,
          banner: esmRequireBanner,
          define: bundleDefines,
          mainFields,
          forceDockerBundling: false,
          logLevel: LogLevel.ERROR,
          commandHooks: {
            beforeBundling: () => [],
            beforeInstall: () => [],
            // Only bundles that import sharp get its linux-arm64 modules (about 20 MB) beside them.
            afterBundling: (_inputDir: string, outputDir: string) => [
              `if grep -Eq '${sharpImportPattern}' "${outputDir}/index.mjs"; then cp -R "${nativeModulesDir}" "${outputDir}/node_modules"; fi`,
              // The playground's static files, built first if web/ changed (Vite runs here, never in Lambda).
              ...(spec.playground
                ? [
                    `"${process.execPath}" --disable-warning=ExperimentalWarning "${join(projectRoot, "infra/build-web.ts")}" --if-stale`,
                    `cp -R "${webDist}" "${outputDir}/${playgroundDirName}"`,
                    `rm -f "${outputDir}/${playgroundDirName}/.built"`,
                  ]
                : []),
              apiReferenceCommand(outputDir),
            ],
          },
        },
      });
      spec.grant(fn, resources);
      acknowledge(fn, "AwsSolutions-L1", nodeRuntimeReason);
      acknowledge(role, "AwsSolutions-IAM5[Resource::*]", xrayReason);
      if (spec.trigger) {
        const [name, dlq] = spec.trigger.queue.endsWith("Dlq")
          ? [spec.trigger.queue.slice(0, -3) as QueueName, true]
          : [spec.trigger.queue as QueueName, false];
        fn.addEventSource(
          new SqsEventSource(dlq ? deadLetterQueues[name] : queues[name], {
            batchSize: spec.trigger.batchSize,
            reportBatchItemFailures: true,
            ...(spec.trigger.maxConcurrency !== undefined && { maxConcurrency: spec.trigger.maxConcurrency }),
          }),
        );
      }
      this.functions.set(spec.id, fn);
    }

    // Issue 16: the shared provider limiter (worker only) and the optional image CDN (infra/scale.ts).
    const worker = this.functions.get("Worker");
    if (worker) addProviderLimits(s, worker, table, queues.jobs);
    // The functions that hand out image URLs: the API's front doors and the webhook deliverer.
    const signers = specs
      .filter((f) => f.service === "api" || f.service === "webhooks")
      .flatMap((f) => this.functions.get(f.id) ?? []);
    addImageCdn(this, s, bucket, signers);

    // --- Front doors --------------------------------------------------------------------------------------
    const frontDoor = (http: "api" | "url") => {
      const spec = specs.find((f) => f.http === http);
      return spec && this.functions.get(spec.id);
    };
    const api = frontDoor("api");
    if (!api) throw new Error("The API function is required");
    const httpApi = new HttpApi(this, "HttpApi", {
      apiName: `image-jobs-${s.stage}`,
      description: "OpenAI-compatible image generation API",
      createDefaultStage: false,
      // Pages on the listed origins may call the API; without the setting, only the API's own (the playground).
      ...(s.apiCorsOrigins && {
        corsPreflight: {
          allowOrigins: s.apiCorsOrigins,
          allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.POST, CorsHttpMethod.DELETE, CorsHttpMethod.HEAD],
          allowHeaders: apiCorsAllowHeaders,
          exposeHeaders: apiCorsExposeHeaders,
          maxAge: Duration.hours(1),
        },
      }),
      defaultIntegration: new HttpLambdaIntegration("ApiIntegration", api, {
        timeout: Duration.seconds(29),
      }),
    });
    const accessLogs = new LogGroup(this, "ApiAccessLogs", {
      retention: s.logRetentionDays as RetentionDays,
      removalPolicy: retain,
    });
    new HttpStage(this, "DefaultStage", {
      httpApi,
      stageName: "$default",
      autoDeploy: true,
      throttle: { rateLimit: s.apiRateLimit, burstLimit: s.apiBurstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        // JSON lines with HTTP API's own variables (the default format names REST API ones).
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: "$context.requestId",
            time: "$context.requestTime",
            ip: "$context.identity.sourceIp",
            method: "$context.httpMethod",
            path: "$context.path",
            status: "$context.status",
            bytes: "$context.responseLength",
            latencyMs: "$context.responseLatency",
            integrationLatencyMs: "$context.integrationLatency",
            integrationError: "$context.integrationErrorMessage",
          }),
        ),
      },
    });
    const apiUrl = `${httpApi.apiEndpoint}/v1`;
    // The API authenticates every request itself (API keys), as it does behind API Gateway. It streams its
    // responses (stream: true, job events), which the HTTP API cannot.
    const functionUrl = frontDoor("url")?.addFunctionUrl({
      authType: FunctionUrlAuthType.NONE,
      invokeMode: InvokeMode.RESPONSE_STREAM,
      ...(s.apiCorsOrigins && {
        cors: {
          allowedOrigins: s.apiCorsOrigins,
          allowedMethods: [HttpMethod.GET, HttpMethod.POST, HttpMethod.DELETE, HttpMethod.HEAD],
          allowedHeaders: apiCorsAllowHeaders,
          exposedHeaders: apiCorsExposeHeaders,
          maxAge: Duration.hours(1),
        },
      }),
    });

    // --- Alarms and dashboard -----------------------------------------------------------------------------
    const topic = new Topic(this, "Alarms", {
      displayName: `image-jobs ${s.stage} alarms`,
      enforceSSL: true,
    });
    if (s.alarmEmail) topic.addSubscription(new EmailSubscription(s.alarmEmail));
    const alarm = (id: string, metric: IMetric, threshold: number, description: string, periods = 1) => {
      const a = new Alarm(this, id, {
        metric,
        threshold,
        evaluationPeriods: periods,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      a.addAlarmAction(new SnsAction(topic));
      a.addOkAction(new SnsAction(topic));
      return a;
    };
    const fiveMinutes = Duration.minutes(5);
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
    const oldestAgeMinutes: Record<QueueName, number> = {
      jobs: 15,
      webhooks: 30,
      inbox: 15,
    };
    for (const [name, q] of Object.entries(queues) as [QueueName, Queue][]) {
      alarm(
        `${name}QueueAge`,
        q.metricApproximateAgeOfOldestMessage({ period: fiveMinutes, statistic: Stats.MAXIMUM }),
        oldestAgeMinutes[name] * 60,
        `The oldest message in the ${name} queue waited over ${oldestAgeMinutes[name]} minutes: consumers are failing, throttled or capped too low.`,
      );
    }
    for (const [id, fn] of this.functions) {
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

    // EMF metrics carry the service name lib/runtime.ts gives each handler: api, worker, dlq, webhooks, inbox.
    const business = (name: MetricName, service: string, statistic: string) =>
      new Metric({
        namespace: metricsNamespace,
        metricName: name,
        dimensionsMap: { service },
        statistic,
        period: fiveMinutes,
      });
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
    // Uploads no job could be made for (no such tenant, a key outside inbox/{tenant}/): nobody else would see them.
    alarm(
      "InboxRejected",
      business("InboxRejected", "inbox", Stats.SUM),
      1,
      "Uploads under inbox/ were rejected (unknown tenant, key outside inbox/{tenant}/, or not an S3 event). The inbox function's logs name each object.",
    );
    const dashboard = new Dashboard(this, "Dashboard", { dashboardName: `image-jobs-${s.stage}` });
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
          q.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), label: name }),
        ),
        right: Object.entries(deadLetterQueues).map(([name, q]) =>
          q.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), label: `${name} DLQ` }),
        ),
        width: 8,
      }),
      new GraphWidget({
        title: "Queues: age of oldest message (s)",
        left: Object.entries(queues).map(([name, q]) =>
          q.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), label: name }),
        ),
        width: 8,
      }),
    );
    dashboard.addWidgets(
      ...[...this.functions].map(
        ([id, fn]) =>
          new GraphWidget({
            title: `${id}: errors, throttles, duration`,
            left: [fn.metricErrors({ period: fiveMinutes }), fn.metricThrottles({ period: fiveMinutes })],
            right: [fn.metricDuration({ period: fiveMinutes, statistic: Stats.p(90) })],
            width: 6,
          }),
      ),
    );

    // --- cdk-nag (AwsSolutions): findings kept on purpose, each with its reason -------------------------------
    // infra/app.ts runs the pack on every synth; test/infra/nag.test.ts fails on any finding not acknowledged here.
    const bucketArn = `<${this.getLogicalId(bucket.node.defaultChild as CfnResource)}.Arn>`;
    for (const shape of Object.values(keyShapes)) {
      acknowledge(
        this,
        `AwsSolutions-IAM5[Resource::${bucketArn}/${shape}]`,
        "Objects of one key shape (tenant, job and file names are only known at run time). Each function gets the " +
          "shapes and actions its code uses, and no bucket-wide action; test/infra/grants.test.ts proves it.",
      );
    }
    acknowledge(
      bucket,
      "AwsSolutions-S1",
      "Every object is written by the service and read through URLs the API presigns for one tenant after " +
        "checking its key; the API's access logs and the job records say who asked for what. Object-level audit, " +
        "where required, is CloudTrail S3 data events for the account (docs/deploy.md).",
    );
    for (const secret of [s.providerSecretArn ? undefined : providerKey, adminKey]) {
      if (secret)
        acknowledge(
          secret,
          "AwsSolutions-SMG4",
          "Keys the operator issues elsewhere (OpenAI's dashboard) or hands to admins: rotated by putting a new " +
            "value (docs/deploy.md); Secrets Manager has no rotation function for them.",
        );
    }
    acknowledge(
      httpApi,
      "AwsSolutions-APIG4",
      "The API authenticates every request itself: tenant API keys (stored hashed) and the admin key. The " +
        "playground, /openapi.json and /docs are public on purpose.",
    );
    const notificationsHandler = this.node.children.find((c) =>
      c.node.id.startsWith("BucketNotificationsHandler"),
    );
    if (notificationsHandler)
      acknowledge(
        notificationsHandler,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        "CDK's own deploy-time handler that puts the bucket's notification configuration; it serves no request.",
      );

    // --- Outputs ------------------------------------------------------------------------------------------
    new CfnOutput(this, "ApiUrl", { value: apiUrl, description: "Base URL for the openai SDK (baseURL)" });
    new CfnOutput(this, "PlaygroundUrl", {
      value: `${httpApi.apiEndpoint}/`,
      description: "The web playground: paste a tenant API key",
    });
    if (functionUrl)
      new CfnOutput(this, "FunctionUrl", {
        value: `${functionUrl.url}v1`,
        description: "Long synchronous waits (Function URL, no API Gateway)",
      });
    new CfnOutput(this, "BucketName", { value: bucket.bucketName });
    new CfnOutput(this, "TableName", { value: table.tableName });
    if (providerKey)
      new CfnOutput(this, "ProviderKeySecretArn", {
        value: providerKey.secretArn,
        description:
          "Put the OpenAI key here: aws secretsmanager put-secret-value --secret-id <arn> --secret-string sk-...",
      });
    new CfnOutput(this, "AdminKeySecretArn", {
      value: adminKey.secretArn,
      description:
        "The admin key: aws secretsmanager get-secret-value --secret-id <arn> --query SecretString",
    });
    new CfnOutput(this, "AlarmTopicArn", { value: topic.topicArn });
  }
}
