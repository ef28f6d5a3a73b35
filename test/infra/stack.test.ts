import { generateKeyPairSync } from "node:crypto";
import { existsSync, openSync, readdirSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import { Match } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot, sharpArm64Binary } from "../../infra/bundling.ts";
import { functionSpecs } from "../../infra/functions.ts";
import {
  dlqAfterReceives,
  inboxDlqAfterReceives,
  jobsByStatusIndex,
  tableDefinition,
  tableKeys,
  webhookDlqAfterReceives,
} from "../../infra/resources.ts";
import { parseSettings, SettingsError } from "../../infra/settings.ts";
import { generateApiReference } from "../../lib/api/reference/generate.ts";
import { type RouteDeps, routes } from "../../lib/api/routes/index.ts";
import { catalog } from "../../lib/catalog/catalog.ts";
import { limiterActions } from "../../lib/limits/provider-rate.ts";
import { jobTimeouts } from "../../lib/providers/timeouts.ts";
import { unsetSecretValue } from "../../lib/secrets.ts";
import type { Json } from "../support/http.ts";
import { removeSynthOutput, type Synth, synth } from "../support/stack-synth.ts";

// Assertions on the synthesized template, by property. One bundled synthesis for this file (the assets are
// inspected too); variants skip bundling.

const actionsOf = (s: Json): string[] => [s.Action].flat();
const resourcesOf = (s: Json): Json[] => [s.Resource].flat();
const grants = (statements: Json[], action: string) =>
  statements.filter((s) => actionsOf(s).includes(action)).flatMap(resourcesOf);

let dev: Synth;

// Bundling five functions takes a while on a busy machine.
beforeAll(() => {
  dev = synth({}, { bundle: true });
}, 180_000);
afterAll(removeSynthOutput);

describe("functions", () => {
  it("run nodejs22.x on arm64 with tracing, source maps, a timeout, memory per function and retained logs", () => {
    const specs = functionSpecs(dev.settings).filter((s) => dev.stack.functions.has(s.id));
    expect(specs.map((s) => s.id)).toEqual(
      expect.arrayContaining(["Api", "Worker", "DeadLetters", "Webhooks", "Inbox"]),
    );
    for (const spec of specs) {
      const p = dev.fn(spec.id).Properties;
      expect(p.Runtime).toBe("nodejs22.x");
      expect(p.Architectures).toEqual(["arm64"]);
      expect(p.Handler).toBe("index.handler");
      expect(p.TracingConfig).toEqual({ Mode: "Active" });
      expect(p.MemorySize).toBe(spec.memoryMb);
      expect(p.Timeout).toBe(spec.timeoutSeconds);
      expect(p.Environment.Variables.NODE_OPTIONS).toBe("--enable-source-maps");
      const logGroup = dev.resources[p.LoggingConfig.LogGroup.Ref];
      expect(logGroup.Type).toBe("AWS::Logs::LogGroup");
      expect(logGroup.Properties.RetentionInDays).toBe(dev.settings.logRetentionDays);
    }
    // Memory is chosen per function, not one size for all.
    expect(dev.fn("Worker").Properties.MemorySize).toBeGreaterThan(
      dev.fn("DeadLetters").Properties.MemorySize,
    );
  });

  it("are each made by a part of the stack, listed in the order of their specs (the dashboard's order)", () => {
    expect([...dev.stack.functions.keys()]).toEqual(functionSpecs(dev.settings).map((s) => s.id));
    const withUrl = synth({ functionUrl: "true" });
    expect([...withUrl.stack.functions.keys()]).toEqual(functionSpecs(withUrl.settings).map((s) => s.id));
  });

  it("skip a function whose entry file is missing, and synthesize without it", () => {
    for (const spec of functionSpecs(dev.settings)) {
      expect(dev.stack.functions.has(spec.id)).toBe(existsSync(join(projectRoot, spec.entry)));
    }
    const without = synth(
      {},
      { entryExists: (e) => e !== "functions/dlq.ts" && existsSync(join(projectRoot, e)) },
    );
    expect(without.stack.skipped).toContain("DeadLetters");
    expect(without.stack.functions.has("DeadLetters")).toBe(false);
    // The DLQ is still there; only its consumer is missing.
    expect(without.byPrefix("AWS::SQS::Queue", "JobsDlq")).toBeDefined();
  });

  it("give the worker the provider key's ARN, never the key; the API and the inbox are told OpenAI is configured", () => {
    const secretId = dev.byPrefix("AWS::SecretsManager::Secret", "ProviderKey")[0];
    const env = (id: string) => dev.fn(id).Properties.Environment.Variables;
    expect(env("Worker").OPENAI_API_KEY_SECRET_ARN).toEqual({ Ref: secretId });
    expect(grants(dev.statements("Worker"), "secretsmanager:GetSecretValue")).toEqual([{ Ref: secretId }]);
    // Only the worker calls OpenAI: the others may not read the key, and the routers know by configuration.
    for (const id of ["Api", "Inbox", "DeadLetters", "Webhooks"]) {
      expect(env(id).OPENAI_API_KEY_SECRET_ARN, id).toBeUndefined();
      expect(grants(dev.statements(id), "secretsmanager:GetSecretValue"), id).not.toContainEqual({
        Ref: secretId,
      });
    }
    for (const id of ["Api", "Inbox"]) expect(env(id).OPENAI_ENABLED, id).toBe("true");
    for (const id of ["Worker", "DeadLetters", "Webhooks"])
      expect(env(id).OPENAI_ENABLED, id).toBeUndefined();
    for (const [, f] of dev.ofType("AWS::Lambda::Function")) {
      const vars = f.Properties.Environment?.Variables ?? {};
      expect(vars.OPENAI_API_KEY).toBeUndefined();
      expect(JSON.stringify(vars)).not.toMatch(/sk-/);
    }
    // The stack's secret starts with a marker the functions read as "no key yet".
    expect(dev.resources[secretId].Properties.SecretString).toBe(unsetSecretValue);
  });

  it("give the API the admin key's ARN (a secret Secrets Manager generates), never the key; only the API may read it", () => {
    const [secretId, secret] = dev.byPrefix("AWS::SecretsManager::Secret", "AdminKey");
    expect(secret.Properties.GenerateSecretString).toMatchObject({
      PasswordLength: 48,
      ExcludePunctuation: true,
    });
    expect(secret.Properties.SecretString).toBeUndefined();
    expect(dev.fn("Api").Properties.Environment.Variables.ADMIN_API_KEY_SECRET_ARN).toEqual({
      Ref: secretId,
    });
    expect(grants(dev.statements("Api"), "secretsmanager:GetSecretValue")).toContainEqual({ Ref: secretId });
    for (const id of ["Worker", "DeadLetters", "Webhooks"]) {
      expect(dev.fn(id).Properties.Environment.Variables.ADMIN_API_KEY_SECRET_ARN).toBeUndefined();
      expect(grants(dev.statements(id), "secretsmanager:GetSecretValue")).not.toContainEqual({
        Ref: secretId,
      });
    }
    for (const [, f] of dev.ofType("AWS::Lambda::Function")) {
      expect(f.Properties.Environment?.Variables?.ADMIN_API_KEY).toBeUndefined();
    }
    expect(dev.template.toJSON().Outputs).toHaveProperty("AdminKeySecretArn");
  });

  it("use an existing secret when given its ARN, and may read only that one", () => {
    const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:openai-key-AbCdEf";
    const own = synth({ providerSecretArn: arn });
    // Only the admin key's secret is made; the provider key's is the one given.
    expect(own.ofType("AWS::SecretsManager::Secret").map(([id]) => id)).toEqual([
      own.byPrefix("AWS::SecretsManager::Secret", "AdminKey")[0],
    ]);
    expect(own.fn("Worker").Properties.Environment.Variables.OPENAI_API_KEY_SECRET_ARN).toBe(arn);
    expect(grants(own.statements("Worker"), "secretsmanager:GetSecretValue")).toEqual([arn]);
    expect(() =>
      parseSettings({ providerSecretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:openai-key" }),
    ).toThrow(/providerSecretArn/);
  });
});

describe("queues", () => {
  it("send jobs to a DLQ after the worker's attempts, with visibility at least 6x the worker's timeout", () => {
    const [, jobs] = dev.byPrefix("AWS::SQS::Queue", "JobsQueue");
    const [dlqId] = dev.byPrefix("AWS::SQS::Queue", "JobsDlq");
    expect(jobs.Properties.RedrivePolicy).toEqual({
      deadLetterTargetArn: { "Fn::GetAtt": [dlqId, "Arn"] },
      maxReceiveCount: dlqAfterReceives(dev.settings.jobMaxAttempts),
    });
    const workerTimeout = dev.fn("Worker").Properties.Timeout;
    expect(jobs.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * workerTimeout);
  });

  it("give the webhook and inbox queues their own DLQs, after as many receives as in the sandbox", () => {
    for (const [queue, dlq, receives] of [
      ["WebhooksQueue", "WebhooksDlq", webhookDlqAfterReceives],
      ["InboxQueue", "InboxDlq", inboxDlqAfterReceives],
    ] as const) {
      const [, q] = dev.byPrefix("AWS::SQS::Queue", queue);
      const [dlqId] = dev.byPrefix("AWS::SQS::Queue", dlq);
      expect(q.Properties.RedrivePolicy.deadLetterTargetArn).toEqual({ "Fn::GetAtt": [dlqId, "Arn"] });
      expect(q.Properties.RedrivePolicy.maxReceiveCount).toBe(receives);
    }
  });

  it("are encrypted and refuse plain HTTP", () => {
    const queues = dev.ofType("AWS::SQS::Queue");
    expect(queues.length).toBeGreaterThanOrEqual(6);
    for (const [id, q] of queues) {
      expect(q.Properties.SqsManagedSseEnabled).toBe(true);
      const policy = dev
        .ofType("AWS::SQS::QueuePolicy")
        .find(([, p]) => p.Properties.Queues.some((r: Json) => r.Ref === id));
      expect(JSON.stringify(policy?.[1].Properties.PolicyDocument)).toContain(
        '"aws:SecureTransport":"false"',
      );
    }
  });

  it("feed the functions through event source mappings that report partial batch failures", () => {
    const mappings = dev.ofType("AWS::Lambda::EventSourceMapping");
    expect(mappings.length).toBeGreaterThanOrEqual(2);
    for (const [, m] of mappings)
      expect(m.Properties.FunctionResponseTypes).toEqual(["ReportBatchItemFailures"]);
    const worker = mappings.find(([, m]) => m.Properties.FunctionName.Ref === dev.logicalId("Worker"));
    const [jobsId] = dev.byPrefix("AWS::SQS::Queue", "JobsQueue");
    expect(worker?.[1].Properties).toMatchObject({
      EventSourceArn: { "Fn::GetAtt": [jobsId, "Arn"] },
      BatchSize: dev.settings.workerBatchSize,
      ScalingConfig: { MaximumConcurrency: dev.settings.workerMaxConcurrency },
    });
    const dlq = mappings.find(([, m]) => m.Properties.FunctionName.Ref === dev.logicalId("DeadLetters"));
    const [dlqId] = dev.byPrefix("AWS::SQS::Queue", "JobsDlq");
    expect(dlq?.[1].Properties.EventSourceArn).toEqual({ "Fn::GetAtt": [dlqId, "Arn"] });
  });

  it("feed uploads from the inbox queue to the inbox function, retried past its own attempts, then to the DLQ", () => {
    const [inboxId, inbox] = dev.byPrefix("AWS::SQS::Queue", "InboxQueue");
    const [inboxDlqId] = dev.byPrefix("AWS::SQS::Queue", "InboxDlq");
    const mapping = dev
      .ofType("AWS::Lambda::EventSourceMapping")
      .find(([, m]) => m.Properties.FunctionName.Ref === dev.logicalId("Inbox"));
    expect(mapping?.[1].Properties).toMatchObject({
      EventSourceArn: { "Fn::GetAtt": [inboxId, "Arn"] },
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      BatchSize: 5,
    });
    expect(inbox.Properties.RedrivePolicy).toEqual({
      deadLetterTargetArn: { "Fn::GetAtt": [inboxDlqId, "Arn"] },
      maxReceiveCount: inboxDlqAfterReceives,
    });
    expect(inbox.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * dev.fn("Inbox").Properties.Timeout);
    // It routes jobs by provider name, as the API does: configuration says which providers are enabled.
    expect(dev.fn("Inbox").Properties.Environment.Variables.OPENAI_ENABLED).toBe("true");
  });

  it("cap the worker's concurrency, and size the visibility to its timeout, from settings", () => {
    const custom = synth({
      workerMaxConcurrency: "25",
      workerTimeoutSeconds: "600",
      providerTimeoutSeconds: "500",
    });
    const [, m] = custom
      .ofType("AWS::Lambda::EventSourceMapping")
      .find(([, e]) => e.Properties.FunctionName.Ref === custom.logicalId("Worker")) as [string, Json];
    expect(m.Properties.ScalingConfig).toEqual({ MaximumConcurrency: 25 });
    expect(custom.fn("Worker").Properties.Timeout).toBe(600);
    expect(custom.byPrefix("AWS::SQS::Queue", "JobsQueue")[1].Properties.VisibilityTimeout).toBe(3600);
  });
});

describe("the table", () => {
  it("is on demand, with point-in-time recovery, a TTL attribute and the listing index the sandbox creates", () => {
    dev.template.hasResourceProperties("AWS::DynamoDB::Table", {
      BillingMode: "PAY_PER_REQUEST",
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: "ttl", Enabled: true },
      DeletionProtectionEnabled: false,
    });
    const [, table] = dev.byPrefix("AWS::DynamoDB::Table", "Jobs");
    const sandbox = tableDefinition("x");
    expect(table.Properties.KeySchema).toEqual(sandbox.KeySchema);
    expect(table.Properties.GlobalSecondaryIndexes).toEqual([
      {
        IndexName: jobsByStatusIndex.name,
        KeySchema: [
          { AttributeName: jobsByStatusIndex.partitionKey, KeyType: "HASH" },
          { AttributeName: jobsByStatusIndex.sortKey, KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "ALL" },
      },
    ]);
    expect(sandbox.GlobalSecondaryIndexes?.[0]?.KeySchema).toEqual(
      table.Properties.GlobalSecondaryIndexes[0].KeySchema,
    );
  });

  it("is protected from deletion and retained in production", () => {
    const prod = synth({ stage: "prod" });
    const [, table] = prod.byPrefix("AWS::DynamoDB::Table", "Jobs");
    expect(table.Properties.DeletionProtectionEnabled).toBe(true);
    expect(table.DeletionPolicy).toBe("Retain");
    expect(prod.stack.stackName).toBe("ImageJobs-prod");
    expect(dev.byPrefix("AWS::DynamoDB::Table", "Jobs")[1].DeletionPolicy).toBe("Delete");
  });
});

describe("the bucket", () => {
  it("blocks public access, enforces TLS and encrypts", () => {
    dev.template.hasResourceProperties("AWS::S3::Bucket", {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
      },
    });
    dev.template.hasResourceProperties("AWS::S3::BucketPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
  });

  it("lets browsers GET presigned URLs, and PUT to those of uploads", () => {
    dev.template.hasResourceProperties("AWS::S3::Bucket", {
      CorsConfiguration: {
        CorsRules: [Match.objectLike({ AllowedMethods: ["GET", "HEAD", "PUT"], AllowedOrigins: ["*"] })],
      },
    });
    const scoped = synth({ corsOrigins: "https://app.example.com, https://admin.example.com" });
    scoped.template.hasResourceProperties("AWS::S3::Bucket", {
      CorsConfiguration: {
        CorsRules: [
          Match.objectLike({ AllowedOrigins: ["https://app.example.com", "https://admin.example.com"] }),
        ],
      },
    });
  });

  it("expires uploaded sources after the configured days and aborts incomplete uploads", () => {
    const rulesOf = (s: Synth) =>
      s.byPrefix("AWS::S3::Bucket", "Images")[1].Properties.LifecycleConfiguration.Rules;
    const rules = rulesOf(dev);
    expect(rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Prefix: "sources/", ExpirationInDays: 7, Status: "Enabled" }),
        expect.objectContaining({ Prefix: "inbox/", ExpirationInDays: 7, Status: "Enabled" }),
        // Uploads of POST /v1/uploads that are never used.
        expect.objectContaining({ Prefix: "uploads/", ExpirationInDays: 1, Status: "Enabled" }),
        expect.objectContaining({
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          Status: "Enabled",
        }),
      ]),
    );
    // Generated images are kept unless a retention is set.
    expect(rules.some((r: Json) => r.Prefix === "tenants/")).toBe(false);
    const custom = rulesOf(synth({ sourceRetentionDays: "30", outputRetentionDays: "365" }));
    expect(custom).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Prefix: "sources/", ExpirationInDays: 30 }),
        expect.objectContaining({ Prefix: "tenants/", ExpirationInDays: 365 }),
      ]),
    );
  });

  it("notifies the inbox queue of objects created under inbox/ only", () => {
    const [inboxId] = dev.byPrefix("AWS::SQS::Queue", "InboxQueue");
    const [, notifications] = dev.ofType("Custom::S3BucketNotifications")[0] as [string, Json];
    expect(notifications.Properties.NotificationConfiguration).toEqual({
      QueueConfigurations: [
        {
          Events: ["s3:ObjectCreated:*"],
          Filter: { Key: { FilterRules: [{ Name: "prefix", Value: "inbox/" }] } },
          QueueArn: { "Fn::GetAtt": [inboxId, "Arn"] },
        },
      ],
    });
    // S3 may send to that queue, for this bucket in this account only, and do nothing else with it.
    const [, policy] = dev
      .ofType("AWS::SQS::QueuePolicy")
      .find(([, p]) => p.Properties.Queues.some((q: Json) => q.Ref === inboxId)) as [string, Json];
    const fromS3 = (policy.Properties.PolicyDocument.Statement as Json[]).filter(
      (st) => st.Principal?.Service === "s3.amazonaws.com",
    );
    expect(fromS3).toEqual([
      {
        Effect: "Allow",
        Principal: { Service: "s3.amazonaws.com" },
        Action: "sqs:SendMessage",
        Resource: { "Fn::GetAtt": [inboxId, "Arn"] },
        Condition: {
          ArnLike: {
            "aws:SourceArn": { "Fn::GetAtt": [dev.byPrefix("AWS::S3::Bucket", "Images")[0], "Arn"] },
          },
          StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } },
        },
      },
    ]);
  });
});

describe("IAM", () => {
  it("never grants data actions on every resource", () => {
    const wildcardOk = new Set(["xray:PutTraceSegments", "xray:PutTelemetryRecords"]);
    for (const [, policy] of dev.ofType("AWS::IAM::Policy")) {
      for (const s of policy.Properties.PolicyDocument.Statement) {
        if (resourcesOf(s).includes("*")) {
          expect(actionsOf(s).filter((a) => !wildcardOk.has(a))).toEqual([]);
        }
      }
    }
  });

  it("grants exact actions on exact resources: no wildcard action, nothing bucket-wide, no index wildcard", () => {
    const bucket = { "Fn::GetAtt": [dev.byPrefix("AWS::S3::Bucket", "Images")[0], "Arn"] };
    for (const id of dev.stack.functions.keys()) {
      const statements = dev.statements(id);
      const actions = statements.flatMap(actionsOf);
      // CDK's grantRead added s3:List* and s3:GetBucket* on the whole bucket, though no function lists it.
      expect(
        actions.filter((a) => a.includes("*")),
        id,
      ).toEqual([]);
      expect(
        actions.filter((a) => /^s3:(List|GetBucket)/.test(a)),
        id,
      ).toEqual([]);
      expect(
        statements.filter((st) => resourcesOf(st).some((r) => JSON.stringify(r) === JSON.stringify(bucket))),
        id,
      ).toEqual([]);
      expect(JSON.stringify(statements), id).not.toContain("/index/*");
    }
  });

  it("let the API delete the items it deletes: re-enabled webhook endpoints and released Idempotency-Keys", () => {
    const table = { "Fn::GetAtt": [dev.byPrefix("AWS::DynamoDB::Table", "Jobs")[0], "Arn"] };
    expect(grants(dev.statements("Api"), "dynamodb:DeleteItem")).toEqual([table]);
    for (const id of ["Worker", "DeadLetters", "Webhooks", "Inbox"])
      expect(grants(dev.statements(id), "dynamodb:DeleteItem"), id).toEqual([]);
  });

  it("let nothing delete uploads: the lifecycle rule expires them", () => {
    for (const id of dev.stack.functions.keys()) {
      const deletes = dev
        .statements(id)
        .filter((st) => actionsOf(st).some((a) => a.startsWith("s3:Delete")))
        .flatMap(resourcesOf);
      expect(JSON.stringify(deletes), id).not.toMatch(/inbox|sources/);
    }
  });

  it("let only the API touch uploads/, with exactly what presigning a PUT and reading it back take", () => {
    for (const id of dev.stack.functions.keys()) {
      const onUploads = dev
        .statements(id)
        .filter((st) => resourcesOf(st).some((r) => JSON.stringify(r).includes("/uploads/")));
      expect(onUploads.flatMap(actionsOf).sort(), id).toEqual(
        id.startsWith("Api") ? ["s3:GetObject", "s3:PutObject"] : [],
      );
    }
  });
});

describe("Bedrock", () => {
  it("is off by default: no grant, no configuration", () => {
    expect(
      dev
        .statements("Worker")
        .flatMap(actionsOf)
        .filter((a) => a.startsWith("bedrock:")),
    ).toEqual([]);
    expect(dev.fn("Worker").Properties.Environment.Variables.BEDROCK_REGION).toBeUndefined();
  });

  it("lets only the worker invoke only the configured models, in the configured region", () => {
    const models = "stability.stable-image-core-v1:1,stability.stable-image-inpaint-v1:0";
    const s = synth({ bedrockRegion: "us-west-2", bedrockModels: models });
    const arn = (id: string) => ({
      "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, `:bedrock:us-west-2::foundation-model/${id}`]],
    });
    const worker = s.statements("Worker");
    expect(grants(worker, "bedrock:InvokeModel")).toEqual(models.split(",").map(arn));
    expect(worker.flatMap(actionsOf).filter((a) => a.startsWith("bedrock:"))).toEqual([
      "bedrock:InvokeModel",
    ]);
    for (const id of ["Api", "DeadLetters", "Webhooks"]) {
      expect(
        s
          .statements(id)
          .flatMap(actionsOf)
          .filter((a) => a.startsWith("bedrock:")),
      ).toEqual([]);
    }
    // The API lists and routes exactly what the worker may call.
    for (const id of ["Api", "Worker"]) {
      expect(s.fn(id).Properties.Environment.Variables).toMatchObject({
        BEDROCK_REGION: "us-west-2",
        BEDROCK_MODELS: models,
      });
    }
  });

  it("lets only the worker read the keys of OpenAI-compatible upstreams, which only come from secrets", () => {
    const keyArn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:studio-key-AbCdEf";
    const upstreams = JSON.stringify([
      {
        name: "studio",
        base_url: "https://studio.example/v1",
        api_key_secret_arn: keyArn,
        models: [{ id: "sdxl" }],
      },
    ]);
    const s = synth({ openaiCompatibleUpstreams: upstreams });
    expect(grants(s.statements("Worker"), "secretsmanager:GetSecretValue")).toContainEqual(keyArn);
    expect(grants(s.statements("Api"), "secretsmanager:GetSecretValue")).not.toContainEqual(keyArn);
    expect(s.fn("Api").Properties.Environment.Variables.OPENAI_COMPATIBLE_UPSTREAMS).toBe(upstreams);
    const withEnvKey = upstreams.replace(`"api_key_secret_arn":"${keyArn}"`, '"api_key_env":"STUDIO_KEY"');
    expect(() => parseSettings({ openaiCompatibleUpstreams: withEnvKey })).toThrow(
      /in AWS give api_key_secret_arn/,
    );
    expect(() => parseSettings({ openaiCompatibleUpstreams: '[{"name":"x"}]' })).toThrow(
      /openaiCompatibleUpstreams/,
    );
  });

  it("grants every catalogued Bedrock model when none are named, and refuses unknown ones", () => {
    const s = synth({ bedrockRegion: "eu-central-1" });
    expect(grants(s.statements("Worker"), "bedrock:InvokeModel")).toHaveLength(5);
    expect(() =>
      parseSettings({ bedrockRegion: "us-east-1", bedrockModels: "amazon.nova-canvas-v1:0" }),
    ).toThrow(/bedrockModels names 'amazon.nova-canvas-v1:0'/);
    expect(() => parseSettings({ modelFallbacks: "{not json" })).toThrow(/modelFallbacks is not valid JSON/);
  });
});

describe("the HTTP API", () => {
  it("fronts the API function with a bounded integration, throttling and access logs", () => {
    dev.template.hasResourceProperties("AWS::ApiGatewayV2::Integration", {
      IntegrationType: "AWS_PROXY",
      PayloadFormatVersion: "2.0",
      TimeoutInMillis: 29_000,
      IntegrationUri: { "Fn::GetAtt": [dev.logicalId("Api"), "Arn"] },
    });
    dev.template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      StageName: "$default",
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
    const [, stage] = dev.byPrefix("AWS::ApiGatewayV2::Stage", "DefaultStage");
    expect(JSON.parse(stage.Properties.AccessLogSettings.Format)).toMatchObject({
      requestId: "$context.requestId",
      status: "$context.status",
      integrationError: "$context.integrationErrorMessage",
    });
    // The synchronous wait ends before the function, which ends before API Gateway's 30 s.
    const api = dev.fn("Api").Properties;
    expect(api.Timeout).toBeLessThan(30);
    expect(Number(api.Environment.Variables.SYNC_WAIT_MS)).toBeLessThanOrEqual((api.Timeout - 3) * 1000);
  });

  it("adds a Function URL for long synchronous waits when asked", () => {
    expect(dev.ofType("AWS::Lambda::Url")).toEqual([]);
    const withUrl = synth({ functionUrl: "true", functionUrlSyncWaitSeconds: "300" });
    const url = withUrl.fn("ApiLongWait").Properties;
    expect(Number(url.Environment.Variables.SYNC_WAIT_MS)).toBe(300_000);
    expect(url.Timeout).toBeGreaterThan(300);
    withUrl.template.hasResourceProperties("AWS::Lambda::Url", {
      AuthType: "NONE",
      // Streams partial images as they come (stream: true), which the HTTP API cannot.
      InvokeMode: "RESPONSE_STREAM",
      TargetFunctionArn: { "Fn::GetAtt": [withUrl.logicalId("ApiLongWait"), "Arn"] },
    });
    withUrl.template.hasOutput("FunctionUrl", {});
  });

  it("gives both front doors the deployment's default response format: OpenAI's b64_json, or url when set", () => {
    expect(dev.fn("Api").Properties.Environment.Variables.DEFAULT_RESPONSE_FORMAT).toBe("b64_json");
    const urls = synth({ functionUrl: "true", defaultResponseFormat: "url" });
    for (const id of ["Api", "ApiLongWait"]) {
      expect(urls.fn(id).Properties.Environment.Variables.DEFAULT_RESPONSE_FORMAT).toBe("url");
    }
    // The workers never answer a request.
    expect(urls.fn("Worker").Properties.Environment.Variables.DEFAULT_RESPONSE_FORMAT).toBeUndefined();
    expect(() => parseSettings({ defaultResponseFormat: "png" })).toThrow(/defaultResponseFormat/);
  });
});

describe("alarms, dashboard and outputs", () => {
  const alarmsOn = (metricName: string) =>
    dev.ofType("AWS::CloudWatch::Alarm").filter(([, a]) => a.Properties.MetricName === metricName);

  it("alarm on DLQ depth and on the age of the oldest message, per queue", () => {
    const depth = alarmsOn("ApproximateNumberOfMessagesVisible").map(
      ([, a]) => a.Properties.Dimensions[0].Value,
    );
    const age = alarmsOn("ApproximateAgeOfOldestMessage").map(([, a]) => a.Properties.Dimensions[0].Value);
    const name = (prefix: string) => ({
      "Fn::GetAtt": [dev.byPrefix("AWS::SQS::Queue", prefix)[0], "QueueName"],
    });
    expect(depth).toEqual(expect.arrayContaining([name("JobsDlq"), name("WebhooksDlq"), name("InboxDlq")]));
    expect(age).toEqual(
      expect.arrayContaining([name("JobsQueue"), name("WebhooksQueue"), name("InboxQueue")]),
    );
    // The jobs DLQ is drained by its consumer within seconds, so arrivals alarm too.
    expect(alarmsOn("NumberOfMessagesReceived").map(([, a]) => a.Properties.Dimensions[0].Value)).toEqual([
      name("JobsDlq"),
    ]);
    for (const [, a] of alarmsOn("ApproximateNumberOfMessagesVisible")) {
      expect(a.Properties).toMatchObject({
        Threshold: 1,
        ComparisonOperator: "GreaterThanOrEqualToThreshold",
      });
    }
  });

  it("alarm on every function's errors and throttles and on API 5xx, notifying the topic", () => {
    for (const id of dev.stack.functions.keys()) {
      for (const metric of ["Errors", "Throttles"]) {
        const found = alarmsOn(metric).filter(
          ([, a]) => a.Properties.Dimensions[0].Value.Ref === dev.logicalId(id),
        );
        expect(found, `${id} ${metric}`).toHaveLength(1);
      }
    }
    const api5xx = dev
      .ofType("AWS::CloudWatch::Alarm")
      .filter(([, a]) =>
        (a.Properties.Metrics ?? []).some((m: Json) => m.MetricStat?.Metric.MetricName === "5xx"),
      );
    expect(api5xx).toHaveLength(1);
    const [, rate] = api5xx[0] as [string, Json];
    expect(rate.Properties.Threshold).toBe(5);
    expect(rate.Properties.Metrics.map((m: Json) => m.MetricStat?.Metric.MetricName ?? m.Expression)).toEqual(
      expect.arrayContaining(["5xx", "Count", "IF(requests >= 20, 100 * errors / requests, 0)"]),
    );
    const [topicId] = dev.byPrefix("AWS::SNS::Topic", "Alarms");
    for (const [, a] of dev.ofType("AWS::CloudWatch::Alarm"))
      expect(a.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
  });

  it("alarm on uploads no job could be made for", () => {
    const [[, rejected]] = alarmsOn("InboxRejected") as [[string, Json]];
    expect(rejected.Properties).toMatchObject({
      Namespace: "ImageJobs/dev",
      Dimensions: [{ Name: "service", Value: "inbox" }],
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
    });
  });

  it("draw the jobs, latency and queues on a dashboard", () => {
    const [, dashboard] = dev.ofType("AWS::CloudWatch::Dashboard")[0] as [string, Json];
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const metric of [
      "JobsCreated",
      "JobsSucceeded",
      "JobsFailed",
      "EndToEndLatency",
      "ProviderLatency",
      "ImagesProduced",
    ]) {
      expect(body).toContain(metric);
    }
    expect(body).toContain("ImageJobs/dev");
  });

  it("output the API URL, the bucket, the table and the secret ARN", () => {
    const outputs = dev.template.toJSON().Outputs as Record<string, Json>;
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining(["ApiUrl", "PlaygroundUrl", "BucketName", "TableName", "ProviderKeySecretArn"]),
    );
    expect(JSON.stringify(outputs.ApiUrl.Value)).toContain("/v1");
  });
});

describe("function assets", () => {
  const assetDir = (id: string) => {
    const key = dev.fn(id).Properties.Code.S3Key as string;
    return join(dev.outdir, `asset.${key.replace(/\.zip$/, "")}`);
  };
  /** ELF e_machine: 0xB7 is AArch64 (Lambda arm64), 0x3E is x86-64. */
  const elfMachine = (file: string) => {
    const header = Buffer.alloc(20);
    const fd = openSync(file, "r");
    readSync(fd, header, 0, 20, 0);
    expect(header.subarray(0, 4).toString("latin1")).toBe("\x7fELF");
    return header.readUInt16LE(18);
  };

  it("ship the worker's sharp as linux-arm64 binaries, whatever this machine is, and no x64 ones", () => {
    const dir = assetDir("Worker");
    expect(readFileSync(join(dir, "index.mjs"), "utf8")).toMatch(/from"sharp"/);
    expect(existsSync(join(dir, "index.mjs.map"))).toBe(true);
    const modules = join(dir, "node_modules");
    expect(readdirSync(join(modules, "@img")).sort()).toEqual([
      "colour",
      "sharp-libvips-linux-arm64",
      "sharp-linux-arm64",
    ]);
    expect(elfMachine(join(modules, sharpArm64Binary))).toBe(0xb7);
    const libvips = readdirSync(join(modules, "@img/sharp-libvips-linux-arm64/lib")).find((f) =>
      f.startsWith("libvips-cpp.so"),
    );
    expect(elfMachine(join(modules, "@img/sharp-libvips-linux-arm64/lib", libvips ?? "missing"))).toBe(0xb7);
    const pkg = JSON.parse(readFileSync(join(modules, "sharp/package.json"), "utf8"));
    expect(pkg.version).toBe("0.35.5");
  });

  it("ship the built playground beside the API's code, and only there", () => {
    const dir = join(assetDir("Api"), "playground");
    const index = readFileSync(join(dir, "index.html"), "utf8");
    const assets = readdirSync(join(dir, "assets"));
    // Every file index.html loads (its script and stylesheet) is in the asset.
    const loaded = [...index.matchAll(/(?:src|href)="\/assets\/([^"]+)"/g)].map((m) => m[1]);
    expect(loaded.map((name) => name?.split(".").pop()).sort()).toEqual(["css", "js"]);
    expect(assets).toEqual(expect.arrayContaining(loaded));
    expect(existsSync(join(dir, ".built"))).toBe(false);
    expect(dev.fn("Api").Properties.Environment.Variables.PLAYGROUND_DIR).toBe("/var/task/playground");
    expect(existsSync(join(assetDir("Worker"), "playground"))).toBe(false);
  });

  it("ship the API reference beside the API bundle, written at bundle time from this source", () => {
    const dir = assetDir("Api");
    const written = JSON.parse(readFileSync(join(dir, "api-reference.json"), "utf8"));
    expect(written).toEqual(generateApiReference(routes({} as RouteDeps)));
    expect(readFileSync(join(dir, "index.mjs"), "utf8")).not.toContain("draft-2020-12");
    expect(existsSync(join(assetDir("Worker"), "api-reference.json"))).toBe(false);
  });

  it("leave sharp out of bundles that do not import it", () => {
    const dir = assetDir("DeadLetters");
    expect(readFileSync(join(dir, "index.mjs"), "utf8")).not.toMatch(/"sharp"/);
    expect(existsSync(join(dir, "node_modules"))).toBe(false);
  });
});

describe("settings", () => {
  it("derive production from the stage unless set", () => {
    expect(parseSettings({}).production).toBe(false);
    expect(parseSettings({ stage: "prod" }).production).toBe(true);
    expect(parseSettings({ stage: "staging", production: "true" }).production).toBe(true);
    expect(parseSettings({ production: false }).production).toBe(false);
  });

  it("refuse bad values with the setting's name", () => {
    expect(() => parseSettings({ workerMaxConcurrency: "1" })).toThrow(/workerMaxConcurrency/);
    expect(() => parseSettings({ syncWaitSeconds: "29" })).toThrow(/syncWaitSeconds/);
    expect(() => parseSettings({ logRetentionDays: "10" })).toThrow(/logRetentionDays/);
    expect(() => parseSettings({ stage: "Prod_1" })).toThrow(SettingsError);
    expect(() => parseSettings({ workerTimeoutSeconds: "120", providerTimeoutSeconds: "115" })).toThrow(
      /providerTimeoutSeconds/,
    );
  });
});

describe("capacity", () => {
  const reserved = (s: Synth, id: string) => s.fn(id).Properties.ReservedConcurrentExecutions;

  it("reserves the worker's concurrency, at least its queue's maximum, and caps the API", () => {
    const mapping = dev
      .ofType("AWS::Lambda::EventSourceMapping")
      .find(([, m]) => m.Properties.FunctionName.Ref === dev.logicalId("Worker")) as [string, Json];
    expect(reserved(dev, "Worker")).toBe(dev.settings.workerMaxConcurrency);
    expect(reserved(dev, "Worker")).toBeGreaterThanOrEqual(
      mapping[1].Properties.ScalingConfig.MaximumConcurrency,
    );
    expect(reserved(dev, "Api")).toBe(100);
    // The queue consumers with small ceilings of their own draw from the unreserved pool.
    for (const id of ["DeadLetters", "Webhooks", "Inbox"]) expect(reserved(dev, id), id).toBeUndefined();

    const custom = synth({
      workerMaxConcurrency: "40",
      workerReservedConcurrency: "50",
      apiReservedConcurrency: "200",
      functionUrl: "true",
    });
    expect([reserved(custom, "Worker"), reserved(custom, "Api"), reserved(custom, "ApiLongWait")]).toEqual([
      50, 200, 200,
    ]);
    const off = synth({ reserveConcurrency: "false" });
    for (const id of ["Worker", "Api"]) expect(reserved(off, id), id).toBeUndefined();
  });

  it("refuse reservations that would not fit the account or would starve the worker's queue", () => {
    // 1,000 by default, of which Lambda keeps 100 unreserved.
    expect(() => parseSettings({ apiReservedConcurrency: "850", workerMaxConcurrency: "60" })).toThrow(
      /reserve 910 .* can reserve 900/,
    );
    expect(() => parseSettings({ accountConcurrency: "150" })).toThrow(/accountConcurrency/);
    expect(() => parseSettings({ workerMaxConcurrency: "20", workerReservedConcurrency: "10" })).toThrow(
      /workerReservedConcurrency \(10\) is below workerMaxConcurrency \(20\)/,
    );
    expect(parseSettings({ accountConcurrency: "150", reserveConcurrency: "false" }).reserveConcurrency).toBe(
      false,
    );
    expect(
      parseSettings({ accountConcurrency: "210", apiReservedConcurrency: "100" }).accountConcurrency,
    ).toBe(210);
  });
});

describe("logs", () => {
  it("are JSON, Lambda's own lines too, filtered at INFO so EMF metrics (no level) are kept", () => {
    for (const id of dev.stack.functions.keys()) {
      expect(dev.fn(id).Properties.LoggingConfig, id).toMatchObject({
        LogFormat: "JSON",
        ApplicationLogLevel: "INFO",
        SystemLogLevel: "INFO",
      });
    }
    const level = (logLevel: string) =>
      synth({ logLevel }).fn("Worker").Properties.LoggingConfig.ApplicationLogLevel;
    expect(level("debug")).toBe("DEBUG");
    // LOG_LEVEL drops the function's own info lines; Lambda's filter must not drop the metrics with them.
    expect(level("warn")).toBe("INFO");
  });

  it("write to the function's own log group only, not to any log group of the account", () => {
    for (const id of dev.stack.functions.keys()) {
      const role = dev.resources[dev.fn(id).Properties.Role["Fn::GetAtt"][0]];
      expect(role.Properties.ManagedPolicyArns, id).toBeUndefined();
      const logGroup = { "Fn::GetAtt": [dev.fn(id).Properties.LoggingConfig.LogGroup.Ref, "Arn"] };
      expect(grants(dev.statements(id), "logs:PutLogEvents"), id).toEqual([logGroup]);
      expect(grants(dev.statements(id), "logs:CreateLogGroup"), id).toEqual([]);
    }
  });
});

describe("CORS for the API", () => {
  it("is off by default: only the API's own origin (its playground) can call it from a browser", () => {
    const [, api] = dev.byPrefix("AWS::ApiGatewayV2::Api", "HttpApi");
    expect(api.Properties.CorsConfiguration).toBeUndefined();
  });

  it("lets the listed origins call the API and read its job headers, on both front doors", () => {
    const origins = "https://app.example.com, http://localhost:5173";
    const s = synth({ apiCorsOrigins: origins, functionUrl: "true" });
    const [, api] = s.byPrefix("AWS::ApiGatewayV2::Api", "HttpApi");
    expect(api.Properties.CorsConfiguration).toMatchObject({
      AllowOrigins: ["https://app.example.com", "http://localhost:5173"],
      AllowMethods: expect.arrayContaining(["GET", "POST", "DELETE"]),
      // "*" does not cover Authorization for browsers: it is named.
      AllowHeaders: expect.arrayContaining(["authorization", "*"]),
      ExposeHeaders: expect.arrayContaining(["x-job-id", "location", "retry-after"]),
    });
    expect(api.Properties.CorsConfiguration.AllowCredentials).toBeUndefined();
    const [, url] = s.ofType("AWS::Lambda::Url")[0] as [string, Json];
    expect(url.Properties.Cors).toMatchObject({
      AllowOrigins: ["https://app.example.com", "http://localhost:5173"],
      AllowHeaders: expect.arrayContaining(["authorization"]),
    });
    expect(() => parseSettings({ apiCorsOrigins: "app.example.com" })).toThrow(/apiCorsOrigins/);
    expect(() => parseSettings({ apiCorsOrigins: "https://app.example.com/path" })).toThrow(/apiCorsOrigins/);
  });
});

describe("without OpenAI", () => {
  it("makes no provider secret, grants none, and tells no function OpenAI is configured", () => {
    const s = synth({ openaiEnabled: "false", bedrockRegion: "us-east-1" });
    expect(s.ofType("AWS::SecretsManager::Secret").map(([id]) => id)).toEqual([
      s.byPrefix("AWS::SecretsManager::Secret", "AdminKey")[0],
    ]);
    for (const id of s.stack.functions.keys()) {
      const env = s.fn(id).Properties.Environment.Variables;
      expect([env.OPENAI_ENABLED, env.OPENAI_API_KEY_SECRET_ARN], id).toEqual([undefined, undefined]);
    }
    expect(s.template.toJSON().Outputs).not.toHaveProperty("ProviderKeySecretArn");
    expect(() =>
      parseSettings({
        openaiEnabled: "false",
        providerSecretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:openai-key-AbCdEf",
      }),
    ).toThrow(/openaiEnabled/);
  });
});

describe("timeouts, sized by the slowest model served", () => {
  it("give the slowest call its time, then the worker time to store, a lease as long, and a 6x visibility", () => {
    const slowest = jobTimeouts(catalog).slowest;
    // gpt-image-2 at high quality and 1536x1024: about 235 s.
    expect(slowest).toEqual({ model: "gpt-image-2", seconds: 235 });
    const worker = dev.fn("Worker").Properties;
    const providerMs = Number(worker.Environment.Variables.PROVIDER_TIMEOUT_MS);
    expect(providerMs).toBeGreaterThanOrEqual(slowest.seconds * 1000 * 1.2);
    expect(providerMs).toBe(300_000);
    expect(worker.Timeout).toBe(providerMs / 1000 + 60);
    // The lease on a running job lasts as long as the invocation holding it.
    expect(Number(worker.Environment.Variables.WORKER_TIMEOUT_MS)).toBe(worker.Timeout * 1000);
    expect(dev.byPrefix("AWS::SQS::Queue", "JobsQueue")[1].Properties.VisibilityTimeout).toBe(
      6 * worker.Timeout,
    );
  });

  it("follow the served models: a slower upstream model raises them, a retired or unserved one does not", () => {
    const upstream = (seconds: number) =>
      JSON.stringify([
        {
          name: "studio",
          base_url: "https://studio.example/v1",
          models: [{ id: "slow-xl", slowest_call_seconds: seconds }],
        },
      ]);
    const slow = parseSettings({ openaiCompatibleUpstreams: upstream(400) });
    expect([slow.providerTimeoutSeconds, slow.workerTimeoutSeconds]).toEqual([500, 560]);
    // Without OpenAI, the Bedrock models size them.
    const bedrockOnly = parseSettings({ openaiEnabled: "false", bedrockRegion: "us-east-1" });
    expect([bedrockOnly.providerTimeoutSeconds, bedrockOnly.workerTimeoutSeconds]).toEqual([80, 140]);
    // Set explicitly, they win; the worker still outlasts the provider call.
    expect(parseSettings({ providerTimeoutSeconds: "500" }).workerTimeoutSeconds).toBe(560);
    expect(() => parseSettings({ openaiCompatibleUpstreams: upstream(800) })).toThrow(
      /slow-xl may take 800 s a call, so the worker would need 1060 s, over Lambda's 900 s/,
    );
  });
});

describe("scale (issue 16)", () => {
  const limits = JSON.stringify({ openai: [{ name: "tier-4", images_per_minute: 150 }] });
  const table = (t: Synth) => ({ "Fn::GetAtt": [t.byPrefix("AWS::DynamoDB::Table", "Jobs")[0], "Arn"] });
  const jobsQueue = (t: Synth) => ({ "Fn::GetAtt": [t.byPrefix("AWS::SQS::Queue", "JobsQueue")[0], "Arn"] });

  it("give the worker, and only it, the provider limits, the limiter's table actions and the delayed re-send", () => {
    const limited = synth({ providerRateLimits: limits });
    const env = (t: Synth, id: string) => t.fn(id).Properties.Environment.Variables;
    expect(env(limited, "Worker").PROVIDER_RATE_LIMITS).toBe(limits);
    for (const id of ["Api", "Inbox", "Webhooks", "DeadLetters"])
      expect(env(limited, id).PROVIDER_RATE_LIMITS).toBeUndefined();
    const worker = limited.statements("Worker");
    for (const action of limiterActions) expect(grants(worker, action)).toContainEqual(table(limited));
    // A job with no capacity goes back to the jobs queue as a new, delayed message.
    expect(grants(worker, "sqs:SendMessage")).toContainEqual(jobsQueue(limited));
    // Without limits, none of it: the worker never sends to the jobs queue.
    expect(env(dev, "Worker").PROVIDER_RATE_LIMITS).toBeUndefined();
    expect(grants(dev.statements("Worker"), "sqs:SendMessage")).not.toContainEqual(jobsQueue(dev));
    // The limiter's items live in the jobs table and expire by its TTL attribute, which the limiter writes.
    limited.template.hasResourceProperties("AWS::DynamoDB::Table", {
      TimeToLiveSpecification: { AttributeName: tableKeys.ttl, Enabled: true },
    });
    expect(limited.ofType("AWS::DynamoDB::Table")).toHaveLength(1);
  });

  it("let the worker, and only it, read exactly the secrets of pooled keys that have their own", () => {
    const arn = (name: string) => `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}-AbCdEf`;
    const pooled = synth({
      providerRateLimits: JSON.stringify({
        openai: [
          { name: "a", images_per_minute: 50 },
          { name: "b", images_per_minute: 50, api_key_secret_arn: arn("project-b") },
          { name: "c", images_per_minute: 50, api_key_secret_arn: arn("project-c") },
        ],
      }),
    });
    const read = (id: string) => grants(pooled.statements(id), "secretsmanager:GetSecretValue");
    expect(read("Worker")).toEqual(expect.arrayContaining([arn("project-b"), arn("project-c")]));
    for (const id of ["Api", "Inbox", "Webhooks", "DeadLetters"]) {
      expect(read(id)).not.toContain(arn("project-b"));
      expect(read(id)).not.toContain(arn("project-c"));
    }
    // Without keys of their own, no secret beyond the provider key's.
    expect(
      grants(synth({ providerRateLimits: limits }).statements("Worker"), "secretsmanager:GetSecretValue"),
    ).toEqual(grants(dev.statements("Worker"), "secretsmanager:GetSecretValue"));
  });

  it("refuse provider limits that are not valid, or that carry a key value of their own", () => {
    expect(() => parseSettings({ providerRateLimits: "{" })).toThrow(/providerRateLimits/);
    expect(() =>
      parseSettings({
        providerRateLimits: JSON.stringify({ openai: [{ name: "x", images_per_minute: 0 }] }),
      }),
    ).toThrow(/providerRateLimits/);
    expect(() =>
      parseSettings({
        providerRateLimits: JSON.stringify({
          openai: [{ name: "b", images_per_minute: 50, api_key_env: "OPENAI_KEY_B" }],
        }),
      }),
    ).toThrow(/api_key_env/);
  });

  it("keep the jobs queue standard, where MessageGroupId makes SQS fair queues (lib/jobs/queue.ts sets it)", () => {
    const [, queue] = dev.byPrefix("AWS::SQS::Queue", "JobsQueue");
    expect(queue.Properties.FifoQueue).toBeUndefined();
  });

  it("put CloudFront in front of generated images only when asked, through origin access control", () => {
    expect(dev.ofType("AWS::CloudFront::Distribution")).toEqual([]);
    const cdn = synth({ imageCdn: "true" });
    const [distributionId, distribution] = cdn.byPrefix("AWS::CloudFront::Distribution", "ImageCdn");
    const config = distribution.Properties.DistributionConfig;
    const [oacId] = cdn.byPrefix("AWS::CloudFront::OriginAccessControl", "ImageCdn");
    expect(config.Origins).toHaveLength(1);
    expect(config.Origins[0].OriginAccessControlId).toEqual({ "Fn::GetAtt": [oacId, "Id"] });
    expect(config.Origins[0].DomainName).toEqual({
      "Fn::GetAtt": [cdn.byPrefix("AWS::S3::Bucket", "Images")[0], "RegionalDomainName"],
    });
    expect(config.DefaultCacheBehavior).toMatchObject({
      AllowedMethods: ["GET", "HEAD"],
      ViewerProtocolPolicy: "redirect-to-https",
    });
    expect(config.DefaultCacheBehavior.TrustedKeyGroups).toBeUndefined();
    // The bucket lets this distribution, and nothing else through CloudFront, read generated images only.
    const [, policy] = cdn.byPrefix("AWS::S3::BucketPolicy", "Images");
    const forCloudFront = policy.Properties.PolicyDocument.Statement.filter(
      (s: Json) => s.Principal?.Service === "cloudfront.amazonaws.com",
    );
    expect(forCloudFront).toHaveLength(1);
    expect(forCloudFront[0].Action).toBe("s3:GetObject");
    expect(JSON.stringify(forCloudFront[0].Resource)).toContain('"/tenants/*"');
    expect(JSON.stringify(forCloudFront[0].Condition.StringEquals["AWS:SourceArn"])).toContain(
      distributionId,
    );
    expect(cdn.template.toJSON().Outputs.ImageCdnDomain).toBeDefined();
  });

  it("serve signed URLs only when given a public key (a key group of it)", () => {
    const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
    const signed = synth({ imageCdn: "true", imageCdnPublicKeyPem: pem });
    const [, distribution] = signed.byPrefix("AWS::CloudFront::Distribution", "ImageCdn");
    const [keyGroupId, keyGroup] = signed.byPrefix("AWS::CloudFront::KeyGroup", "ImageCdnKeys");
    expect(distribution.Properties.DistributionConfig.DefaultCacheBehavior.TrustedKeyGroups).toEqual([
      { Ref: keyGroupId },
    ]);
    const [publicKeyId, key] = signed.byPrefix("AWS::CloudFront::PublicKey", "ImageCdnPublicKey");
    expect(keyGroup.Properties.KeyGroupConfig.Items).toEqual([{ Ref: publicKeyId }]);
    expect(key.Properties.PublicKeyConfig.EncodedKey).toBe(pem);
    expect(() => parseSettings({ imageCdnPublicKeyPem: pem })).toThrow(/imageCdn/);
    // Without the private key's secret the functions hand out presigned S3 URLs: no CDN settings reach them.
    for (const id of ["Api", "Webhooks"])
      expect(signed.fn(id).Properties.Environment.Variables.IMAGE_CDN_DOMAIN).toBeUndefined();
  });

  it("let the API and webhooks, and only them, sign CloudFront URLs with the private key's secret", () => {
    const pem = generateKeyPairSync("rsa", { modulusLength: 2048 })
      .publicKey.export({ type: "spki", format: "pem" })
      .toString();
    const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:image-cdn-key-AbCdEf";
    const signing = synth({
      imageCdn: "true",
      imageCdnPublicKeyPem: pem,
      imageCdnPrivateKeySecretArn: arn,
      functionUrl: "true",
    });
    const [distributionId] = signing.byPrefix("AWS::CloudFront::Distribution", "ImageCdn");
    const [publicKeyId] = signing.byPrefix("AWS::CloudFront::PublicKey", "ImageCdnPublicKey");
    const env = (id: string) => signing.fn(id).Properties.Environment.Variables;
    const reads = (id: string) => grants(signing.statements(id), "secretsmanager:GetSecretValue");
    const signers = [
      "Api",
      "Webhooks",
      ...(signing.stack.functions.has("ApiLongWait") ? ["ApiLongWait"] : []),
    ];
    for (const id of signers) {
      expect(env(id).IMAGE_CDN_DOMAIN).toEqual({ "Fn::GetAtt": [distributionId, "DomainName"] });
      expect(env(id).IMAGE_CDN_KEY_PAIR_ID).toEqual({ Ref: publicKeyId });
      expect(env(id).IMAGE_CDN_PRIVATE_KEY_SECRET_ARN).toBe(arn);
      expect(reads(id)).toContain(arn);
    }
    for (const id of ["Worker", "Inbox", "DeadLetters"]) {
      expect(env(id).IMAGE_CDN_PRIVATE_KEY_SECRET_ARN).toBeUndefined();
      expect(reads(id)).not.toContain(arn);
    }
    expect(() => parseSettings({ imageCdn: "true", imageCdnPrivateKeySecretArn: arn })).toThrow(
      /imageCdnPublicKeyPem/,
    );
  });
});

describe("logical IDs", () => {
  // The stack was split into parts (infra/constructs) after its first deployments. A resource whose logical ID
  // changed would be replaced: an empty table and bucket, new secrets, a new API URL. A renamed event source
  // mapping fails the update, as Lambda allows one mapping of a queue to a function.
  it("stay those the resources had before the stack had parts", () => {
    expect(Object.keys(dev.resources)).toEqual(
      expect.arrayContaining([
        "JobsDF1CC2D4",
        "Images2D38C313",
        "JobsQueue86ED6666",
        "JobsDlqB53173A1",
        "WebhooksQueue53D37C2C",
        "WebhooksDlqB284501A",
        "InboxQueue51E39F61",
        "InboxDlqC39BBCF0",
        "ProviderKeyA6B56E02",
        "AdminKeyC19094DA",
        "HttpApiF5A9A8A7",
        "DefaultStageEE28A986",
        "ApiAccessLogsE9DF007D",
        "ApiF70053CD",
        "ApiLogs3D05D88B",
        "Worker11F36D0F",
        "WorkerLogsC1193B08",
        "DeadLettersBBF8BAAB",
        "WebhooksA50342DA",
        "InboxA8E05DC3",
        "WorkerSqsEventSourceImageJobsdevJobsQueue3FE29C5DB9CA4D93",
        "DeadLettersSqsEventSourceImageJobsdevJobsDlqFDBC497A56D39E0D",
        "WebhooksSqsEventSourceImageJobsdevWebhooksQueue21B3D18D2B2F31EA",
        "InboxSqsEventSourceImageJobsdevInboxQueueFB93F029CCBAED61",
        "Alarms04B5A0BF",
        "Dashboard9E4231ED",
      ]),
    );
    expect(Object.keys(dev.template.toJSON().Outputs)).toEqual(
      expect.arrayContaining([
        "ApiUrl",
        "PlaygroundUrl",
        "BucketName",
        "TableName",
        "ProviderKeySecretArn",
        "AdminKeySecretArn",
        "AlarmTopicArn",
      ]),
    );
  });
});
