import { Validations } from "aws-cdk-lib";
import { Construct, type IConstruct } from "constructs";

/**
 * One part of the stack (storage, api, worker, ...). Its id is left out of its resources' logical IDs
 * (ImageJobsStack.allocateLogicalId): the resources were made on the stack itself before it had parts, and a
 * deployed table, bucket, queue, secret, API or function whose logical ID changed would be replaced.
 */
export class StackPart extends Construct {}

/** Keeps a cdk-nag finding with its reason (cdk-nag 3 reads CDK's own acknowledgements). */
export function acknowledge(scope: IConstruct, rule: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `AwsSolutions::${rule}`, reason });
}
