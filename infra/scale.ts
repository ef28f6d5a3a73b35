import { Annotations, CfnOutput } from "aws-cdk-lib";
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  KeyGroup,
  PriceClass,
  PublicKey,
  ViewerProtocolPolicy,
} from "aws-cdk-lib/aws-cloudfront";
import { S3BucketOrigin } from "aws-cdk-lib/aws-cloudfront-origins";
import type { Table } from "aws-cdk-lib/aws-dynamodb";
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { type Bucket, Bucket as BucketRef } from "aws-cdk-lib/aws-s3";
import type { Queue } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { limiterActions } from "../lib/limits/provider-rate.ts";
import { bucketPrefixes } from "./resources.ts";
import { providerRateLimitsOf, type StackSettings } from "./settings.ts";

// What issue 16 (scale) adds to the stack, kept apart from the core resources: the shared provider limiter's
// configuration and grants, and an optional CloudFront distribution in front of generated images.

/**
 * The worker counts provider keys' use in the jobs table (items PRL#{provider}#{key}, expired by the table's TTL)
 * and, when no key has room, sends the job's message again with a delay. Only the worker does either, and only it
 * reads the secrets of pooled keys that have their own (one secret per key, read once per cold start).
 */
export function addProviderLimits(
  s: StackSettings,
  worker: IFunction & { addEnvironment(key: string, value: string): unknown },
  table: Table,
  jobsQueue: Queue,
): void {
  if (s.providerRateLimits === undefined) return;
  worker.addEnvironment("PROVIDER_RATE_LIMITS", s.providerRateLimits);
  // On the table only: Table.grant would add its indexes too, which the limiter never reads.
  worker.addToRolePolicy(new PolicyStatement({ actions: [...limiterActions], resources: [table.tableArn] }));
  jobsQueue.grantSendMessages(worker);
  const keySecrets = Object.values(providerRateLimitsOf(s.providerRateLimits))
    .flat()
    .flatMap((k) => (k.api_key_secret_arn ? [k.api_key_secret_arn] : []));
  if (keySecrets.length > 0)
    worker.addToRolePolicy(
      new PolicyStatement({ actions: ["secretsmanager:GetSecretValue"], resources: keySecrets }),
    );
}

/**
 * CloudFront in front of generated images (tenants/ only), reading the bucket through origin access control, so
 * hot images are served from edge caches rather than S3 (per-prefix GET limits, egress). With a public key the
 * distribution serves signed URLs only; with the private key's secret too, the API and webhook payloads hand out
 * CloudFront signed URLs for generated images. Without it they hand out presigned S3 URLs (docs/scale.md).
 */
export function addImageCdn(
  scope: Construct,
  s: StackSettings,
  bucket: Bucket,
  signers: readonly (IFunction & { addEnvironment(key: string, value: string): unknown })[],
): Distribution | undefined {
  if (!s.imageCdn) return undefined;
  const publicKey = s.imageCdnPublicKeyPem
    ? new PublicKey(scope, "ImageCdnPublicKey", { encodedKey: s.imageCdnPublicKeyPem })
    : undefined;
  const keyGroup = publicKey ? new KeyGroup(scope, "ImageCdnKeys", { items: [publicKey] }) : undefined;
  // Through a reference, so CloudFront's construct does not grant itself the whole bucket: the statement below
  // grants generated images only.
  const readOnlyView = BucketRef.fromBucketAttributes(scope, "ImageCdnOrigin", {
    bucketArn: bucket.bucketArn,
    bucketRegionalDomainName: bucket.bucketRegionalDomainName,
  });
  Annotations.of(scope).acknowledgeWarning(
    "@aws-cdk/aws-cloudfront-origins:updateImportedBucketPolicyOac",
    "The bucket policy statement for the distribution is added in infra/scale.ts, scoped to tenants/.",
  );
  const distribution = new Distribution(scope, "ImageCdn", {
    comment: `image-jobs (${s.stage}) generated images`,
    priceClass: PriceClass.PRICE_CLASS_100,
    defaultBehavior: {
      // Nothing but generated images: any other key answers 403 (the grant below covers tenants/ only).
      origin: S3BucketOrigin.withOriginAccessControl(readOnlyView),
      viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
      cachePolicy: CachePolicy.CACHING_OPTIMIZED,
      ...(keyGroup && { trustedKeyGroups: [keyGroup] }),
    },
  });
  // Generated images never change under their key: CloudFront may read them, nothing else.
  bucket.addToResourcePolicy(
    new PolicyStatement({
      actions: ["s3:GetObject"],
      principals: [new ServicePrincipal("cloudfront.amazonaws.com")],
      resources: [bucket.arnForObjects(`${bucketPrefixes.outputs}*`)],
      conditions: { StringEquals: { "AWS:SourceArn": distribution.distributionArn } },
    }),
  );
  // With the private key's secret, the functions that hand out image URLs (the API, webhooks) sign CloudFront URLs;
  // they read the key once per cold start, and only they may.
  const privateKeyArn = s.imageCdnPrivateKeySecretArn;
  if (publicKey && privateKeyArn) {
    for (const fn of signers) {
      fn.addEnvironment("IMAGE_CDN_DOMAIN", distribution.distributionDomainName);
      fn.addEnvironment("IMAGE_CDN_KEY_PAIR_ID", publicKey.publicKeyId);
      fn.addEnvironment("IMAGE_CDN_PRIVATE_KEY_SECRET_ARN", privateKeyArn);
      fn.addToRolePolicy(
        new PolicyStatement({ actions: ["secretsmanager:GetSecretValue"], resources: [privateKeyArn] }),
      );
    }
  }
  new CfnOutput(scope, "ImageCdnDomain", {
    value: distribution.distributionDomainName,
    description: "CloudFront domain for generated images (tenants/{tenant}/jobs/...)",
  });
  return distribution;
}
