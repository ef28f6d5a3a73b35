import { existsSync } from "node:fs";
import { join } from "node:path";
import { type CfnElement, Names, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import { Construct, RootConstruct } from "constructs";
import { nativeModulesDir, projectRoot, sharpArm64Binary } from "./bundling.ts";
import { Alarms } from "./constructs/alarms.ts";
import { Api } from "./constructs/api.ts";
import { BatchLane } from "./constructs/batch-lane.ts";
import { Dashboard } from "./constructs/dashboard.ts";
import { ImageCdn } from "./constructs/image-cdn.ts";
import { Inbox } from "./constructs/inbox.ts";
import { Keys } from "./constructs/keys.ts";
import { StackPart } from "./constructs/part.ts";
import { Queues } from "./constructs/queues.ts";
import { ServiceFunctions } from "./constructs/service-function.ts";
import { Storage } from "./constructs/storage.ts";
import { Webhooks } from "./constructs/webhooks.ts";
import { Worker } from "./constructs/worker.ts";
import { functionSpecs, queuePolicies } from "./functions.ts";
import { bedrockModelIds, type StackSettings, upstreamsOf } from "./settings.ts";

export interface ImageJobsStackProps extends StackProps {
  settings: StackSettings;
  /** Function entries to leave out (their files are missing); reported by the app. Defaults to a file check. */
  entryExists?: (entry: string) => boolean;
}

/**
 * The whole service in one stack, composed of parts (infra/constructs): storage, queues, keys, the API, the
 * worker, the batch lane, webhooks, the inbox, the optional image CDN, alarms and a dashboard. A new part is one more line here.
 */
export class ImageJobsStack extends Stack {
  /** The functions by construct id, in the order of their specs. */
  readonly functions: ReadonlyMap<string, NodejsFunction>;
  /** Functions left out because their entry file is missing. */
  readonly skipped: readonly string[];

  constructor(scope: Construct, id: string, props: ImageJobsStackProps) {
    super(scope, id, props);
    const s = props.settings;
    if (!existsSync(join(nativeModulesDir, sharpArm64Binary)))
      throw new Error(
        "sharp for linux-arm64 is missing from infra/native/node_modules. It is installed by `npm ci` " +
          "(postinstall); run `npm run native` to install it now.",
      );
    const removalPolicy = s.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const specs = functionSpecs(s);

    // "Default" is left out of the unique ids CDK derives from a path (Names.uniqueId), as it is from logical IDs.
    // The event source mappings are named after their queue's unique id, and Lambda refuses a second mapping of a
    // queue to a function: a renamed mapping would fail the update of a deployed stack.
    const policies = queuePolicies(s, specs);
    const queues = new Queues(this, "Default", { policies });
    const storage = new Storage(this, "Storage", { settings: s, removalPolicy });
    const keys = new Keys(this, "Keys", { settings: s, removalPolicy });
    const upstreams = s.openaiCompatibleUpstreams ? upstreamsOf(s.openaiCompatibleUpstreams) : [];
    const functions = new ServiceFunctions({
      settings: s,
      specs,
      resources: {
        table: storage.table,
        bucket: storage.bucket,
        queues: queues.work,
        deadLetterQueues: queues.deadLetter,
        providerKey: keys.providerKey,
        adminKey: keys.adminKey,
        bedrockModelArns: bedrockModelIds(s).map(
          (id) => `arn:${this.partition}:bedrock:${s.bedrockRegion}::foundation-model/${id}`,
        ),
        upstreamKeySecretArns: upstreams.flatMap((u) => (u.api_key_secret_arn ? [u.api_key_secret_arn] : [])),
      },
      entryExists: props.entryExists ?? ((entry) => existsSync(join(projectRoot, entry))),
      removalPolicy,
    });
    const api = new Api(this, "Api", { settings: s, functions, removalPolicy });
    new Worker(this, "Worker", { settings: s, functions, table: storage.table, jobsQueue: queues.work.jobs });
    new BatchLane(this, "BatchLane", {
      settings: s,
      functions,
      table: storage.table,
      deadLetterQueue: queues.deadLetter.jobs,
      ...policies.jobs,
    });
    new Webhooks(this, "Webhooks", { functions });
    new Inbox(this, "Inbox", { functions, bucket: storage.bucket, inboxQueue: queues.work.inbox });
    if (s.imageCdn) {
      // The functions that hand out image URLs sign them for the CDN: the API's front doors and webhooks.
      const signers = specs
        .filter((f) => f.service === "api" || f.service === "webhooks")
        .flatMap((f) => functions.get(f.id) ?? []);
      new ImageCdn(this, "ImageCdn", { settings: s, bucket: storage.bucket, signers });
    }
    this.functions = functions.all();
    this.skipped = functions.skipped;

    const watched = {
      queues: queues.work,
      deadLetterQueues: queues.deadLetter,
      functions: this.functions,
      httpApi: api.httpApi,
    };
    const alarms = new Alarms(this, "Alarms", { settings: s, ...watched });
    new Dashboard(this, "Dashboard", { settings: s, topic: alarms.topic, ...watched });
  }

  /**
   * A part's resources keep the logical IDs they had on the stack itself, before it had parts (StackPart): the
   * logical ID CDK gives the same path without the part, computed by CDK itself on a detached copy of that path.
   */
  protected override allocateLogicalId(element: CfnElement): string {
    const below = element.node.scopes.slice(this.node.scopes.length);
    if (!(below[0] instanceof StackPart)) return super.allocateLogicalId(element);
    const samePath = below
      .slice(1)
      .reduce<Construct>((parent, c) => new Construct(parent, c.node.id), new RootConstruct());
    return Names.uniqueId(samePath);
  }
}
