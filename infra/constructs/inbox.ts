import { Stack } from "aws-cdk-lib";
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { type Bucket, BucketNotificationDestinationType, EventType } from "aws-cdk-lib/aws-s3";
import type { Queue } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { bucketPrefixes } from "../resources.ts";
import { acknowledge, StackPart } from "./part.ts";
import type { ServiceFunctions } from "./service-function.ts";

export interface InboxProps {
  functions: ServiceFunctions;
  bucket: Bucket;
  inboxQueue: Queue;
}

/** Images uploaded under inbox/{tenant}/ become jobs: S3 notifies the inbox queue, the Inbox function reads it. */
export class Inbox extends StackPart {
  constructor(scope: Construct, id: string, { functions, bucket, inboxQueue }: InboxProps) {
    super(scope, id);
    functions.make(this, "Inbox");
    const stack = Stack.of(this);
    // S3 may send to the inbox queue for this bucket in this account only (aws-s3-notifications' SqsDestination
    // checks the bucket alone, and grants more than SendMessage).
    bucket.addEventNotification(
      EventType.OBJECT_CREATED,
      {
        bind: () => {
          inboxQueue.addToResourcePolicy(
            new PolicyStatement({
              principals: [new ServicePrincipal("s3.amazonaws.com")],
              actions: ["sqs:SendMessage"],
              resources: [inboxQueue.queueArn],
              conditions: {
                ArnLike: { "aws:SourceArn": bucket.bucketArn },
                StringEquals: { "aws:SourceAccount": stack.account },
              },
            }),
          );
          // The queue's construct holds its policy: S3 checks the policy when the notification is put.
          return {
            arn: inboxQueue.queueArn,
            type: BucketNotificationDestinationType.QUEUE,
            dependencies: [inboxQueue],
          };
        },
      },
      { prefix: bucketPrefixes.inbox },
    );
    // CDK makes the handler once per stack, on the stack itself.
    const notificationsHandler = stack.node.children.find((c) =>
      c.node.id.startsWith("BucketNotificationsHandler"),
    );
    if (notificationsHandler)
      acknowledge(
        notificationsHandler,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        "CDK's own deploy-time handler that puts the bucket's notification configuration; it serves no request.",
      );
  }
}
