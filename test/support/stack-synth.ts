import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Validations } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import type { CfnFunction } from "aws-cdk-lib/aws-lambda";
import { AwsSolutionsChecks } from "cdk-nag";
import { projectRoot } from "../../infra/bundling.ts";
import { parseSettings } from "../../infra/settings.ts";
import { ImageJobsStack } from "../../infra/stack.ts";
import type { Json } from "./http.ts";

// The stack synthesized as `cdk synth` does (cdk.json's context, then the test's), for assertions on the template.
// Bundling is skipped unless asked for: it takes seconds per function.

const cdkContext = JSON.parse(readFileSync(join(projectRoot, "cdk.json"), "utf8")).context as Record<
  string,
  unknown
>;
const outdirs: string[] = [];

export function synth(
  context: Record<string, unknown> = {},
  options: { bundle?: boolean; entryExists?: (e: string) => boolean; nag?: boolean } = {},
) {
  const outdir = mkdtempSync(join(tmpdir(), "image-jobs-cdk-"));
  outdirs.push(outdir);
  const app = new App({
    outdir,
    context: { ...cdkContext, ...context, ...(!options.bundle && { "aws:cdk:bundling-stacks": [] }) },
  });
  const settings = parseSettings(app.node.getAllContext());
  const stack = new ImageJobsStack(app, `ImageJobs-${settings.stage}`, {
    settings,
    ...(options.entryExists && { entryExists: options.entryExists }),
  });
  // As infra/app.ts does for `cdk synth`: a finding not acknowledged in the stack fails the synthesis.
  if (options.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Record<string, Json>;
  const logicalId = (id: string) => {
    const fn = stack.functions.get(id);
    if (!fn) throw new Error(`No ${id} function`);
    return stack.getLogicalId(fn.node.defaultChild as CfnFunction);
  };
  const fn = (id: string) => resources[logicalId(id)];
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const byPrefix = (type: string, prefix: string) => {
    const found = ofType(type).find(([k]) => k.startsWith(prefix));
    if (!found) throw new Error(`No ${type} named ${prefix}*`);
    return found;
  };
  /** Statements of the policies attached to a function's role. */
  const statements = (id: string): Json[] => {
    const role = fn(id).Properties.Role["Fn::GetAtt"][0];
    return ofType("AWS::IAM::Policy")
      .filter(([, p]) => p.Properties.Roles.some((r: Json) => r.Ref === role))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
  };
  return { app, stack, template, resources, settings, outdir, fn, logicalId, ofType, byPrefix, statements };
}

export type Synth = ReturnType<typeof synth>;

/** Removes the cloud assemblies written so far (call it in afterAll). */
export function removeSynthOutput(): void {
  for (const dir of outdirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
