import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import type { AwsCall, ServiceName } from "../../lib/aws-calls.ts";

// What the functions' AWS calls need from IAM. While the suites run, every function records each call it makes
// (lib/aws-calls.ts, switched on by vitest.config.ts). This vitest global setup turns the records into IAM
// permissions after all the forks are done, and keeps test/infra/aws-calls.json, the committed manifest, equal to
// them: a permission no manifest lists fails the run (and is added, to review and commit); on a complete, green
// run, a listed permission nothing used fails it too (and is removed). test/infra/grants.test.ts then proves the
// synthesized stack grants each function exactly its manifest. The manifest sits between the two because vitest
// runs the files in parallel forks in any order: the stack test cannot wait for the others, and a run of one
// file records only part of the calls, which must not count as "unused".

const root = new URL("../../", import.meta.url).pathname;
export const awsCallLogDir = join(root, "test-artifacts/aws-calls");
export const manifestPath = join(root, "test/infra/aws-calls.json");

/** `action resource`: "dynamodb:GetItem JOBS_TABLE", "s3:PutObject IMAGES_BUCKET/tenants/\*\/jobs/\*". */
export type Permission = string;
export type Manifest = Record<ServiceName, Permission[]>;

const services: ServiceName[] = ["api", "worker", "webhooks", "inbox", "dlq", "batch-poller"];

/**
 * Key segments kept as they are; every other one is a tenant, a job or a file name, and becomes `*`. So keys map to
 * shapes like tenants/{any}/jobs/{any}, and grants are checked against shapes, not against one test's ids.
 */
const literalKeySegments = new Set(["jobs", "idempotency", "folders"]);

export function keyShape(key: string): string {
  const segments = key.split("/");
  const shape = segments.map((s, i) =>
    (i === 0 && segments.length > 1) || literalKeySegments.has(s) ? s : "*",
  );
  return shape.filter((s, i) => s !== "*" || shape[i - 1] !== "*").join("/");
}

/** An object, as a resource: its bucket (a variable's name when it is the service's bucket) and key shape. */
function object(bucketAndKey: string): string {
  const slash = bucketAndKey.indexOf("/");
  return `${bucketAndKey.slice(0, slash)}/${keyShape(bucketAndKey.slice(slash + 1))}`;
}

type Mapping = (t: Record<string, string>) => [action: string, resource: string | undefined][];

const dynamodb =
  (action: string): Mapping =>
  (t) => [
    [
      `dynamodb:${action}`,
      t.TableName && (t.IndexName ? `${t.TableName}/index/${t.IndexName}` : t.TableName),
    ],
  ];
const s3 =
  (action: string): Mapping =>
  (t) => [[`s3:${action}`, t.Bucket && t.Key && object(`${t.Bucket}/${t.Key}`)]];
const sqs =
  (action: string): Mapping =>
  (t) => [[`sqs:${action}`, t.QueueUrl]];

/**
 * Each command the functions send, as the IAM actions it needs (AWS's service authorization reference): HeadObject
 * is s3:GetObject, CopyObject reads its source and writes its destination, multipart parts are s3:PutObject. A
 * command missing here fails the run, so a first use of one adds its mapping.
 */
const permissionsOf: Record<string, Record<string, Mapping>> = {
  DynamoDBClient: Object.fromEntries(
    ["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan"].map((a) => [
      `${a}Command`,
      dynamodb(a),
    ]),
  ),
  S3Client: {
    GetObjectCommand: s3("GetObject"),
    HeadObjectCommand: s3("GetObject"),
    PutObjectCommand: s3("PutObject"),
    CreateMultipartUploadCommand: s3("PutObject"),
    UploadPartCommand: s3("PutObject"),
    CompleteMultipartUploadCommand: s3("PutObject"),
    AbortMultipartUploadCommand: s3("AbortMultipartUpload"),
    DeleteObjectCommand: s3("DeleteObject"),
    CopyObjectCommand: (t) => [
      ["s3:GetObject", t.CopySource && object(decodeURIComponent(t.CopySource))],
      ...s3("PutObject")(t),
    ],
  },
  SQSClient: {
    SendMessageCommand: sqs("SendMessage"),
    SendMessageBatchCommand: sqs("SendMessage"),
    ChangeMessageVisibilityCommand: sqs("ChangeMessageVisibility"),
    ChangeMessageVisibilityBatchCommand: sqs("ChangeMessageVisibility"),
    DeleteMessageCommand: sqs("DeleteMessage"),
    DeleteMessageBatchCommand: sqs("DeleteMessage"),
    ReceiveMessageCommand: sqs("ReceiveMessage"),
    GetQueueAttributesCommand: sqs("GetQueueAttributes"),
  },
  SecretsManagerClient: {
    GetSecretValueCommand: (t) => [["secretsmanager:GetSecretValue", t.SecretId]],
  },
  BedrockRuntimeClient: {
    InvokeModelCommand: (t) => [["bedrock:InvokeModel", t.modelId && `foundation-model/${t.modelId}`]],
  },
};

/** The permissions one recorded call needs; throws for a command or a call it cannot map. */
export function permissionsFor(call: AwsCall): Permission[] {
  const mapping = permissionsOf[call.client]?.[call.command];
  if (!mapping)
    throw new Error(
      `${call.service} sent ${call.client} ${call.command}, which test/support/aws-calls.ts cannot map to IAM actions yet: add it there.`,
    );
  return mapping(call.targets).map(([action, resource]) => {
    if (!resource)
      throw new Error(
        `${call.service} sent ${call.command} without the resource it names: ${JSON.stringify(call)}`,
      );
    return `${action} ${resource}`;
  });
}

export function readRecordedCalls(dir = awsCallLogDir): AwsCall[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".jsonl"))
    .flatMap((f) => readFileSync(join(dir, f), "utf8").split("\n"))
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as AwsCall);
}

export function permissionsOfCalls(calls: readonly AwsCall[]): Manifest {
  const found = Object.fromEntries(services.map((s) => [s, new Set<Permission>()])) as Record<
    ServiceName,
    Set<Permission>
  >;
  for (const call of calls) for (const p of permissionsFor(call)) found[call.service].add(p);
  return Object.fromEntries(services.map((s) => [s, [...found[s]].sort()])) as Manifest;
}

export function readManifest(): Manifest {
  const parsed = JSON.parse(readFileSync(manifestPath, "utf8")) as Partial<Manifest>;
  return Object.fromEntries(services.map((s) => [s, parsed[s] ?? []])) as Manifest;
}

function writeManifest(manifest: Manifest): void {
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Every file the config selects ran, none failed, and no test name filter or shard left tests out. */
async function completeRun(project: TestProject): Promise<boolean> {
  const config = project.vitest.config;
  if (config.testNamePattern !== undefined || config.shard !== undefined) return false;
  const ran = new Set(project.vitest.state.getFilepaths());
  const all = (await project.globTestFiles()).testFiles;
  return all.every((f) => ran.has(f)) && project.vitest.state.getCountOfFailedTests() === 0;
}

/** Vitest global setup: clears the records before the run; compares them with the manifest after it. */
export default function setup(project: TestProject): () => Promise<void> {
  rmSync(awsCallLogDir, { recursive: true, force: true });
  return async () => {
    const used = permissionsOfCalls(readRecordedCalls());
    const listed = readManifest();
    const complete = await completeRun(project);
    const added: string[] = [];
    const removed: string[] = [];
    const next = {} as Manifest;
    for (const s of services) {
      const known = new Set(listed[s]);
      const now = new Set(used[s]);
      for (const p of now) if (!known.has(p)) added.push(`${s}: ${p}`);
      if (complete) for (const p of known) if (!now.has(p)) removed.push(`${s}: ${p}`);
      next[s] = complete ? [...now].sort() : [...new Set([...known, ...now])].sort();
    }
    if (added.length === 0 && removed.length === 0) return;
    writeManifest(next);
    const lines = [
      "The functions' AWS calls changed; test/infra/aws-calls.json is now updated. Review it, make",
      "infra/functions.ts grant exactly that (test/infra/grants.test.ts checks), and commit both.",
      ...added.map((p) => `  + ${p}`),
      ...removed.map((p) => `  - ${p} (no function made this call in a complete run)`),
    ];
    process.stderr.write(`\n${lines.join("\n")}\n`);
    throw new Error("The AWS call manifest was out of date (see above).");
  };
}
