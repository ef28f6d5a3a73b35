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
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import { type Bucket, Bucket as BucketRef } from "aws-cdk-lib/aws-s3";
import type { Construct } from "constructs";
import { bucketPrefixes } from "../resources.ts";
import type { StackSettings } from "../settings.ts";
import { acknowledge, StackPart } from "./part.ts";

export interface ImageCdnProps {
  settings: StackSettings;
  bucket: Bucket;
  /** The functions that hand out image URLs (the API's front doors, webhooks): they sign CloudFront URLs. */
  signers: readonly NodejsFunction[];
}

/** cdk-nag's CloudFront findings, kept on purpose: the distribution serves generated images under *.cloudfront.net. */
const cdnFindings = {
  "AwsSolutions-CFR1":
    "Tenants' users fetch their images from anywhere; an operator who must restrict countries adds a geo " +
    "restriction to the distribution.",
  "AwsSolutions-CFR2":
    "A read-only cache of generated images: no request reaches code, and with a public key only signed URLs are " +
    "served. An operator who wants WAF rate rules attaches a web ACL.",
  "AwsSolutions-CFR3":
    "Images are found through the API, whose access logs and job records say who asked for what, as for the " +
    "bucket (AwsSolutions-S1); CloudFront standard logs, where required, go to a destination the operator owns.",
  "AwsSolutions-CFR4":
    "The distribution uses CloudFront's default *.cloudfront.net certificate, whose viewer TLS policy CloudFront " +
    "sets; a minimum of TLSv1.2 needs a custom domain with its own certificate.",
};

/**
 * CloudFront in front of generated images (tenants/ only), reading the bucket through origin access control, so
 * hot images are served from edge caches rather than S3 (per-prefix GET limits, egress). With a public key the
 * distribution serves signed URLs only; with the private key's secret too, the API and webhook payloads hand out
 * CloudFront signed URLs for generated images. Without it they hand out presigned S3 URLs (docs/scale.md).
 */
export class ImageCdn extends StackPart {
  readonly distribution: Distribution;

  constructor(scope: Construct, id: string, { settings: s, bucket, signers }: ImageCdnProps) {
    super(scope, id);
    const publicKey = s.imageCdnPublicKeyPem
      ? new PublicKey(this, "ImageCdnPublicKey", { encodedKey: s.imageCdnPublicKeyPem })
      : undefined;
    const keyGroup = publicKey ? new KeyGroup(this, "ImageCdnKeys", { items: [publicKey] }) : undefined;
    // Through a reference, so CloudFront's construct does not grant itself the whole bucket: the statement below
    // grants generated images only.
    const readOnlyView = BucketRef.fromBucketAttributes(this, "ImageCdnOrigin", {
      bucketArn: bucket.bucketArn,
      bucketRegionalDomainName: bucket.bucketRegionalDomainName,
    });
    Annotations.of(this).acknowledgeWarning(
      "@aws-cdk/aws-cloudfront-origins:updateImportedBucketPolicyOac",
      "The bucket policy statement for the distribution is added below (infra/constructs/image-cdn.ts), scoped to tenants/.",
    );
    this.distribution = new Distribution(this, "ImageCdn", {
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
        conditions: { StringEquals: { "AWS:SourceArn": this.distribution.distributionArn } },
      }),
    );
    // With the private key's secret, the functions that hand out image URLs sign CloudFront URLs; they read the key
    // once per cold start, and only they may.
    const privateKeyArn = s.imageCdnPrivateKeySecretArn;
    if (publicKey && privateKeyArn) {
      for (const fn of signers) {
        fn.addEnvironment("IMAGE_CDN_DOMAIN", this.distribution.distributionDomainName);
        fn.addEnvironment("IMAGE_CDN_KEY_PAIR_ID", publicKey.publicKeyId);
        fn.addEnvironment("IMAGE_CDN_PRIVATE_KEY_SECRET_ARN", privateKeyArn);
        fn.addToRolePolicy(
          new PolicyStatement({ actions: ["secretsmanager:GetSecretValue"], resources: [privateKeyArn] }),
        );
      }
    }
    for (const [rule, reason] of Object.entries(cdnFindings)) acknowledge(this.distribution, rule, reason);
    new CfnOutput(this, "ImageCdnDomain", {
      value: this.distribution.distributionDomainName,
      description: "CloudFront domain for generated images (tenants/{tenant}/jobs/...)",
    });
  }
}
