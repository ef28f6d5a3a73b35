import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { ServiceConfig } from "./config.ts";

// The AWS calls each function makes, written down while the test suites run (AWS_CALL_LOG_DIR), so that
// test/infra/grants.test.ts can prove the stack grants every one of them and nothing else. Off by default: the
// clients are returned untouched.

/** The functions' composition roots, by the `service` name of their logs and metrics (infra/functions.ts maps them). */
export type ServiceName = "api" | "worker" | "webhooks" | "inbox" | "dlq" | "batch-poller";

/** One recorded call. Config values (table, bucket, queues, secrets) appear as their variable's name. */
export interface AwsCall {
  service: ServiceName;
  /** The SDK's names: "DynamoDBClient", "GetItemCommand". */
  client: string;
  command: string;
  /** What the call touches: TableName, IndexName, Bucket, Key, CopySource, QueueUrl, SecretId, modelId. */
  targets: Record<string, string>;
}

/** The variables whose values name a resource; a recorded value becomes the variable's name. */
const resourceVariables = [
  "JOBS_TABLE",
  "IMAGES_BUCKET",
  "JOBS_QUEUE_URL",
  "BATCH_QUEUE_URL",
  "WEBHOOKS_QUEUE_URL",
  "OPENAI_API_KEY_SECRET_ARN",
  "ADMIN_API_KEY_SECRET_ARN",
  "IMAGE_CDN_PRIVATE_KEY_SECRET_ARN",
] as const;
// Batch and transaction commands name their tables elsewhere; test/support/aws-calls.ts refuses commands it has no
// IAM mapping for, so the first use of one extends both.
const targetFields = [
  "TableName",
  "IndexName",
  "Bucket",
  "Key",
  "CopySource",
  "QueueUrl",
  "SecretId",
  "modelId",
];

interface Stack {
  clone(): Stack;
  add(middleware: RecordingMiddleware, options: { step: "initialize"; name: string }): void;
}
type RecordingMiddleware = (
  next: (args: { input: object }) => Promise<unknown>,
  context: { clientName?: string; commandName?: string },
) => (args: { input: object }) => Promise<unknown>;

interface CounterStack {
  add(
    middleware: RecordingMiddleware,
    options: { step: "initialize" | "deserialize"; name: string; priority?: "high" },
  ): void;
}

type RecordedConfig = Pick<ServiceConfig, "AWS_CALL_LOG_DIR" | (typeof resourceVariables)[number]> &
  Partial<Pick<ServiceConfig, "OPENAI_COMPATIBLE_UPSTREAMS" | "PROVIDER_RATE_LIMITS">>;

/**
 * The client as `service` sees it: each command it sends or presigns is recorded first. A view, not a copy, so
 * clients shared between functions (tests hand one set to all) are still told apart. Unchanged when not recording.
 */
export function recordAwsCalls<C extends { middlewareStack: Stack }>(
  client: C,
  service: ServiceName,
  config: RecordedConfig,
): C {
  const middleware = recordingMiddleware(service, config);
  if (!middleware) return client;
  // SDK clients resolve each command (and the presigner each URL) from `this.middlewareStack`.
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property !== "middlewareStack") return Reflect.get(target, property, receiver);
      const stack = target.middlewareStack.clone();
      stack.add(middleware, { step: "initialize", name: "recordAwsCall" });
      return stack;
    },
  });
}

/** Records the calls of a client only `service` uses (a provider's own), on the client itself. */
export function recordOwnAwsCalls(
  client: { middlewareStack: Stack },
  service: ServiceName,
  config: RecordedConfig,
): void {
  const middleware = recordingMiddleware(service, config);
  if (middleware) client.middlewareStack.add(middleware, { step: "initialize", name: "recordAwsCall" });
}

function recordingMiddleware(service: ServiceName, config: RecordedConfig): RecordingMiddleware | undefined {
  const dir = config.AWS_CALL_LOG_DIR;
  if (!dir) return undefined;
  const names = new Map<string, string>();
  for (const variable of resourceVariables) {
    const value = config[variable];
    if (value) names.set(value, variable);
  }
  for (const u of config.OPENAI_COMPATIBLE_UPSTREAMS ?? []) {
    if (u.api_key_secret_arn)
      names.set(u.api_key_secret_arn, "OPENAI_COMPATIBLE_UPSTREAMS[].api_key_secret_arn");
  }
  for (const k of Object.values(config.PROVIDER_RATE_LIMITS ?? {}).flat()) {
    if (k.api_key_secret_arn) names.set(k.api_key_secret_arn, "PROVIDER_RATE_LIMITS[].api_key_secret_arn");
  }
  return (next, context) => (args) => {
    write(dir, {
      service,
      client: context.clientName ?? "unknown",
      command: context.commandName ?? "unknown",
      targets: targetsOf(args.input, names),
    });
    return next(args);
  };
}

function targetsOf(input: object, names: ReadonlyMap<string, string>): Record<string, string> {
  const named = (value: string) => {
    for (const [known, variable] of names) {
      if (value === known) return variable;
      // CopySource is "bucket/key".
      if (value.startsWith(`${known}/`)) return `${variable}${value.slice(known.length)}`;
    }
    return value;
  };
  const fields = input as Record<string, unknown>;
  const targets: Record<string, string> = {};
  for (const field of targetFields) {
    const value = fields[field];
    if (typeof value === "string") targets[field] = named(value);
  }
  return targets;
}

const written = new Set<string>();

/** One file per process (vitest forks, sandbox processes), appended at once: nothing is lost if it is killed. */
function write(dir: string, call: AwsCall): void {
  const line = JSON.stringify(call);
  if (written.has(line)) return;
  if (written.size === 0) mkdirSync(dir, { recursive: true });
  written.add(line);
  appendFileSync(join(dir, `${process.pid}.jsonl`), `${line}\n`);
}

/**
 * Counts AWS calls by "Service.Operation" ("DynamoDB.UpdateItem"), and the DynamoDB capacity units they consume,
 * for `npm run bench`'s calls per job and cost per image. Added once where clients are made (createClients'
 * `counter`). Counted at the deserialize step, so each attempt the SDK sends counts and a presigned URL (signed
 * locally, never sent) does not. `take()` returns the figures since the last take.
 */
export class AwsCallCounter {
  private calls = new Map<string, number>();
  private units = new Map<string, number>();

  attach(client: { middlewareStack: { add(...args: never[]): void } }): void {
    const stack = client.middlewareStack as unknown as CounterStack;
    // Asked for before the request is serialized; DynamoDB then reports what the call consumed.
    stack.add(
      (next, context) => (args) => {
        if (context.clientName === "DynamoDBClient")
          (args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity = "TOTAL";
        return next(args);
      },
      { step: "initialize", name: "askConsumedCapacity" },
    );
    stack.add(
      (next, context) => async (args) => {
        const service = (context.clientName ?? "unknown").replace(/Client$/, "");
        const name = `${service}.${(context.commandName ?? "unknown").replace(/Command$/, "")}`;
        this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
        const result = (await next(args)) as { output?: { ConsumedCapacity?: { CapacityUnits?: number } } };
        const consumed = result.output?.ConsumedCapacity?.CapacityUnits;
        if (consumed !== undefined) this.units.set(name, (this.units.get(name) ?? 0) + consumed);
        return result;
      },
      { step: "deserialize", name: "countAwsCall", priority: "high" },
    );
  }

  take(): { calls: Record<string, number>; capacityUnits: Record<string, number> } {
    const sorted = (m: Map<string, number>) =>
      Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)));
    const taken = { calls: sorted(this.calls), capacityUnits: sorted(this.units) };
    this.calls.clear();
    this.units.clear();
    return taken;
  }
}
