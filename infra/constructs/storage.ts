import { CfnOutput, Duration, RemovalPolicy } from "aws-cdk-lib";
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from "aws-cdk-lib/aws-dynamodb";
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  HttpMethods,
  ObjectOwnership,
} from "aws-cdk-lib/aws-s3";
import type { Construct } from "constructs";
import { uploadRetentionDays } from "../../lib/storage/uploads.ts";
import { bucketPrefixes, tableDefinition, tableKeys } from "../resources.ts";
import type { StackSettings } from "../settings.ts";
import { acknowledge, StackPart } from "./part.ts";

export interface StorageProps {
  settings: StackSettings;
  /** What a stack deletion does to the table. */
  removalPolicy: RemovalPolicy;
}

/** The jobs table (the single-table layout of lib/jobs) and the images bucket. */
export class Storage extends StackPart {
  readonly table: Table;
  readonly bucket: Bucket;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);
    const s = props.settings;
    this.table = jobsTable(this, s, props.removalPolicy);
    this.bucket = new Bucket(this, "Images", {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      encryption: BucketEncryption.S3_MANAGED,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Browsers fetch images straight from presigned URLs, and PUT uploads to them (POST /v1/uploads).
      cors: [
        {
          allowedMethods: [HttpMethods.GET, HttpMethods.HEAD, HttpMethods.PUT],
          allowedOrigins: s.corsOrigins.split(",").map((o) => o.trim()),
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
    acknowledge(
      this.bucket,
      "AwsSolutions-S1",
      "Every object is written by the service and read through URLs the API presigns for one tenant after " +
        "checking its key; the API's access logs and the job records say who asked for what. Object-level audit, " +
        "where required, is CloudTrail S3 data events for the account (docs/deploy.md).",
    );
    new CfnOutput(this, "BucketName", { value: this.bucket.bucketName });
    new CfnOutput(this, "TableName", { value: this.table.tableName });
  }
}

function jobsTable(scope: Construct, s: StackSettings, removalPolicy: RemovalPolicy): Table {
  const definition = tableDefinition("unused");
  const attributeType = (name: string) =>
    definition.AttributeDefinitions?.find((a) => a.AttributeName === name)?.AttributeType === "N"
      ? AttributeType.NUMBER
      : AttributeType.STRING;
  const table = new Table(scope, "Jobs", {
    partitionKey: { name: tableKeys.partitionKey, type: AttributeType.STRING },
    sortKey: { name: tableKeys.sortKey, type: AttributeType.STRING },
    billingMode: BillingMode.PAY_PER_REQUEST,
    // Encrypted at rest with an AWS-owned key: no KMS charges, no key policy to manage.
    encryption: TableEncryption.DEFAULT,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    deletionProtection: s.production,
    timeToLiveAttribute: tableKeys.ttl,
    removalPolicy,
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
  return table;
}
