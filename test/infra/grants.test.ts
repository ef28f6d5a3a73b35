import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { functionSpecs } from "../../infra/functions.ts";
import type { ServiceName } from "../../lib/aws-calls.ts";
import { type Manifest, readManifest } from "../support/aws-calls.ts";
import type { Json } from "../support/http.ts";
import { removeSynthOutput, type Synth, synth } from "../support/stack-synth.ts";

// Least privilege, proven: each function's role grants exactly the AWS calls its code makes. The calls come from
// test/infra/aws-calls.json, which the integration and e2e suites keep equal to what the functions really send
// (test/support/aws-calls.ts); here both directions are checked against the synthesized template:
//   - every call in the manifest is allowed on its resource (a missing grant is a 403 in AWS);
//   - every grant is a call in the manifest, action and resource exactly, or one of the few below that the code
//     does not make itself.

const pseudo: Record<string, string> = {
  "AWS::Partition": "aws",
  "AWS::Region": "us-east-1",
  "AWS::AccountId": "123456789012",
  "AWS::URLSuffix": "amazonaws.com",
};

/** A template value as text: `{Logical.Arn}` for GetAtt, `{Logical}` for Ref. */
function text(value: Json): string {
  if (typeof value === "string") return value;
  if (value.Ref) return pseudo[value.Ref] ?? `{${value.Ref}}`;
  if (value["Fn::GetAtt"]) return `{${value["Fn::GetAtt"].join(".")}}`;
  if (value["Fn::Join"]) return value["Fn::Join"][1].map(text).join(value["Fn::Join"][0]);
  throw new Error(`Cannot read ${JSON.stringify(value)}`);
}

/** IAM's wildcards: `*` any run of characters, `?` one. Actions compare without case. */
function matches(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${source}$`, ignoreCase ? "i" : "").test(value);
}

/** A manifest resource stands for every key of its shape: a grant covers it only if it covers any value there. */
const anyValue = "\u0000";

interface Grant {
  action: string;
  resource: string;
}

function grantsOf(s: Synth, id: string): Grant[] {
  return s
    .statements(id)
    .filter((st) => st.Effect === "Allow")
    .flatMap((st) =>
      [st.Action]
        .flat()
        .flatMap((action: string) =>
          [st.Resource].flat().map((resource: Json) => ({ action, resource: text(resource) })),
        ),
    );
}

/** The ARNs a manifest resource names for one function: its variables, read from the function's environment. */
function arnsOf(s: Synth, id: string, resource: string): string[] {
  const env = s.fn(id).Properties.Environment.Variables as Record<string, Json>;
  if (resource.startsWith("foundation-model/")) {
    if (!env.BEDROCK_REGION) throw new Error(`${id} invokes a Bedrock model but has no BEDROCK_REGION`);
    return [`arn:aws:bedrock:${env.BEDROCK_REGION}::${resource}`];
  }
  if (resource === "OPENAI_COMPATIBLE_UPSTREAMS[].api_key_secret_arn") {
    const upstreams = JSON.parse(env.OPENAI_COMPATIBLE_UPSTREAMS ?? "[]") as {
      api_key_secret_arn?: string;
    }[];
    return upstreams.flatMap((u) => (u.api_key_secret_arn ? [u.api_key_secret_arn] : []));
  }
  if (resource === "PROVIDER_RATE_LIMITS[].api_key_secret_arn") {
    const pools = JSON.parse(env.PROVIDER_RATE_LIMITS ?? "{}") as Record<
      string,
      { api_key_secret_arn?: string }[]
    >;
    return Object.values(pools)
      .flat()
      .flatMap((k) => (k.api_key_secret_arn ? [k.api_key_secret_arn] : []));
  }
  const m = /^([A-Z][A-Z0-9_]*)(.*)$/.exec(resource);
  const variable = m?.[1] ?? resource;
  const value = env[variable];
  if (value === undefined)
    throw new Error(
      `${id} uses ${resource}, but its environment has no ${variable} to say which resource it is`,
    );
  // The variables hold a name or URL (Ref); the role names the resource by ARN. A secret's Ref is its ARN.
  const arn =
    typeof value === "string"
      ? value
      : s.resources[value.Ref]?.Type === "AWS::SecretsManager::Secret"
        ? `{${value.Ref}}`
        : `{${value.Ref}.Arn}`;
  return [`${arn}${m?.[2] ?? ""}`];
}

/** Grants the functions' own code never uses, and why each is still needed. Anything else unused is a failure. */
function unusedButNeeded(s: Synth, id: string, grant: Grant): string | undefined {
  // The worker has two: the jobs queue and the batch lane's.
  const sources = s
    .ofType("AWS::Lambda::EventSourceMapping")
    .filter(([, m]) => m.Properties.FunctionName.Ref === s.logicalId(id))
    .map(([, m]) => text(m.Properties.EventSourceArn));
  const pollerActions = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
  ];
  if (sources.includes(grant.resource) && pollerActions.includes(grant.action))
    return "Lambda's event source mapping polls the function's queue with its role (CDK's SqsEventSource grants it)";
  const logGroup = text({ "Fn::GetAtt": [s.fn(id).Properties.LoggingConfig.LogGroup.Ref, "Arn"] });
  if (["logs:CreateLogStream", "logs:PutLogEvents"].includes(grant.action) && grant.resource === logGroup)
    return "Lambda writes the function's own log group with its role";
  if (["xray:PutTraceSegments", "xray:PutTelemetryRecords"].includes(grant.action) && grant.resource === "*")
    return "active tracing sends segments with the role; X-Ray has no resource-level permissions";
  if (grant.action === "bedrock:InvokeModel")
    return "one grant per configured Bedrock model (tenants pick models; stack.test.ts checks the list)";
  return undefined;
}

/**
 * Calls made only when a setting the default stack lacks is on: Bedrock's models, upstreams' keys, and the
 * limiter's delayed re-send of a job that found no provider capacity and pooled keys' secrets (providerRateLimits),
 * the batch lane's records of submitted batches (openaiBatchLane).
 */
const needsWhatDefaultLacks = (service: ServiceName, permission: string) => {
  const resource = permission.split(" ")[1] ?? "";
  return (
    resource.startsWith("foundation-model/") ||
    resource.includes("UPSTREAMS") ||
    resource.startsWith("PROVIDER_RATE_LIMITS") ||
    resource === "IMAGE_CDN_PRIVATE_KEY_SECRET_ARN" ||
    (service === "worker" && permission === "sqs:SendMessage JOBS_QUEUE_URL") ||
    // The batch lane's submissions (openaiBatchLane) record their batch as an item.
    (service === "worker" && permission === "dynamodb:PutItem JOBS_TABLE")
  );
};

// Everything that can be turned on: Bedrock, an upstream whose key is a secret, the long-wait API, provider limits.
const upstreamKeyArn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:studio-upstream-key-AbCdEf";
const cdnPublicKeyPem = generateKeyPairSync("rsa", { modulusLength: 2048 })
  .publicKey.export({ type: "spki", format: "pem" })
  .toString();
const pooledKeyArn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:openai-project-b-AbCdEf";
const variants: Record<string, Record<string, string>> = {
  default: {},
  everything: {
    bedrockRegion: "us-west-2",
    providerRateLimits: JSON.stringify({
      openai: [
        { name: "tier-4", images_per_minute: 150 },
        { name: "project-b", images_per_minute: 150, api_key_secret_arn: pooledKeyArn },
      ],
    }),
    functionUrl: "true",
    openaiBatchLane: "true",
    imageCdn: "true",
    imageCdnPublicKeyPem: cdnPublicKeyPem,
    imageCdnPrivateKeySecretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:image-cdn-key-AbCdEf",
    openaiCompatibleUpstreams: JSON.stringify([
      {
        name: "studio",
        base_url: "https://studio.example/v1",
        api_key_secret_arn: upstreamKeyArn,
        models: [{ id: "sdxl" }],
      },
    ]),
  },
};

let manifest: Manifest;
const synths: Record<string, Synth> = {};
beforeAll(() => {
  manifest = readManifest();
  for (const [name, context] of Object.entries(variants)) synths[name] = synth(context);
});
afterAll(removeSynthOutput);

const functions = (s: Synth) =>
  functionSpecs(s.settings)
    .filter((spec) => s.stack.functions.has(spec.id))
    .map((spec) => [spec.id, spec.service] as [string, ServiceName]);

describe.each(Object.keys(variants))("the %s stack", (variant) => {
  it("grants each function every AWS call its code makes, on the resource it makes it on", () => {
    const s = synths[variant] as Synth;
    const missing: string[] = [];
    for (const [id, service] of functions(s)) {
      const grants = grantsOf(s, id);
      for (const permission of manifest[service]) {
        const [action = "", resource = ""] = permission.split(" ");
        // Calls that need a provider this variant does not configure.
        if (variant === "default" && needsWhatDefaultLacks(service, permission)) continue;
        for (const arn of arnsOf(s, id, resource)) {
          const wanted = arn.replaceAll("*", anyValue);
          if (!grants.some((g) => matches(g.action, action, true) && matches(g.resource, wanted)))
            missing.push(`${id} (${service}): ${action} on ${arn}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it("grants nothing else: every grant is a call the code makes, or needed for a stated reason", () => {
    const s = synths[variant] as Synth;
    const unused: string[] = [];
    for (const [id, service] of functions(s)) {
      const used = manifest[service].flatMap((permission) => {
        const [action = "", resource = ""] = permission.split(" ");
        if (variant === "default" && needsWhatDefaultLacks(service, permission)) return [];
        return arnsOf(s, id, resource).map((arn) => `${action} ${arn}`);
      });
      for (const grant of grantsOf(s, id)) {
        if (used.includes(`${grant.action} ${grant.resource}`)) continue;
        if (unusedButNeeded(s, id, grant)) continue;
        unused.push(`${id} (${service}): ${grant.action} on ${grant.resource}`);
      }
    }
    expect(unused).toEqual([]);
  });
});

it("maps the functions to the composition roots that record their calls", () => {
  const s = synths.everything as Synth;
  expect(Object.fromEntries(functions(s))).toEqual({
    Api: "api",
    ApiLongWait: "api",
    Worker: "worker",
    DeadLetters: "dlq",
    Webhooks: "webhooks",
    Inbox: "inbox",
    BatchPoller: "batch-poller",
  });
});
