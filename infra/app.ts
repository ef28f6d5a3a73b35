import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { parseSettings } from "./settings.ts";
import { ImageJobsStack } from "./stack.ts";

// `npx cdk synth` / `npx cdk deploy` (cdk.json runs this). Settings come from CDK context: cdk.json or -c key=value.
const app = new App();
const settings = parseSettings(app.node.getAllContext());
const stack = new ImageJobsStack(app, `ImageJobs-${settings.stage}`, {
  settings,
  description: `image-jobs (${settings.stage}): OpenAI-compatible image generation on Lambda, SQS, DynamoDB and S3`,
});
// cdk-nag's AwsSolutions pack: a finding the stack does not acknowledge (with its reason) fails the synthesis.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
for (const id of stack.skipped) {
  process.stderr.write(
    `[image-jobs] ${id} function skipped: its entry file does not exist yet (infra/functions.ts).\n`,
  );
}
