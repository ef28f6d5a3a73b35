import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { removeSynthOutput, synth } from "../support/stack-synth.ts";

// cdk-nag's AwsSolutions pack over the synthesized stack, as `cdk synth` runs it (infra/app.ts): no finding may
// be left unacknowledged, and every acknowledgement (infra/constructs) carries its reason.

interface Report {
  pluginReports: {
    pluginName: string;
    conclusion: string;
    violations: { ruleName: string }[];
    suppressedViolations?: {
      ruleName: string;
      reason: string;
      violatingConstructs: { constructPath: string }[];
    }[];
  }[];
}

/** Findings kept on purpose; a new one is a decision to review, so it is listed here too. */
const acknowledged = [
  "AwsSolutions-APIG4",
  "AwsSolutions-CFR1",
  "AwsSolutions-CFR2",
  "AwsSolutions-CFR3",
  "AwsSolutions-CFR4",
  "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
  "AwsSolutions-IAM5[Resource::*]",
  "AwsSolutions-IAM5[Resource::<Images2D38C313.Arn>/inbox/*]",
  "AwsSolutions-IAM5[Resource::<Images2D38C313.Arn>/sources/*]",
  "AwsSolutions-IAM5[Resource::<Images2D38C313.Arn>/tenants/*/folders/*]",
  "AwsSolutions-IAM5[Resource::<Images2D38C313.Arn>/tenants/*/idempotency/*]",
  "AwsSolutions-IAM5[Resource::<Images2D38C313.Arn>/tenants/*/jobs/*]",
  "AwsSolutions-IAM5[Resource::<Images2D38C313.Arn>/uploads/*]",
  "AwsSolutions-L1",
  "AwsSolutions-S1",
  "AwsSolutions-SMG4",
];

afterAll(removeSynthOutput);

describe.each([
  ["dev", {}],
  [
    "production, with everything on",
    {
      stage: "prod",
      bedrockRegion: "us-west-2",
      functionUrl: "true",
      apiCorsOrigins: "https://app.example.com",
      alarmEmail: "ops@example.com",
      imageCdn: "true",
      openaiCompatibleUpstreams: JSON.stringify([
        {
          name: "studio",
          base_url: "https://studio.example/v1",
          api_key_secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:studio-AbCdEf",
          models: [{ id: "sdxl" }],
        },
      ]),
    },
  ],
])("cdk-nag AwsSolutions on the %s stack", (_name, context) => {
  it("finds nothing that is not acknowledged with a reason", () => {
    let outdir = "";
    expect(() => {
      outdir = synth(context, { nag: true }).outdir;
    }).not.toThrow();
    const report = JSON.parse(readFileSync(join(outdir, "validation-report.json"), "utf8")) as Report;
    const [nag] = report.pluginReports;
    expect(nag?.pluginName).toBe("AwsSolutions");
    expect(nag?.violations).toEqual([]);
    expect(nag?.conclusion).toBe("success");
    const kept = nag?.suppressedViolations ?? [];
    for (const v of kept) expect(v.reason.length, v.ruleName).toBeGreaterThan(40);
    expect([...new Set(kept.map((v) => v.ruleName))].sort()).toEqual(
      acknowledged.filter((rule) => kept.some((v) => v.ruleName === rule)),
    );
    expect(kept.map((v) => v.ruleName)).toEqual(
      expect.arrayContaining(["AwsSolutions-L1", "AwsSolutions-IAM5[Resource::*]"]),
    );
  });
});
