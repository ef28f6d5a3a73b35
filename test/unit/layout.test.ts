import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  activeJobsKey,
  apiKeyKey,
  dailyImagesKey,
  disabledWebhookKey,
  idempotencyBodyKey,
  idempotencyKey,
  inboxTenant,
  inJobRange,
  jobKey,
  jobRange,
  jobStatusKey,
  keptSourceKey,
  outputKey,
  outputKeyPattern,
  partialKey,
  providerRateKey,
  rateWindowKey,
  sourceKey,
  tenantApiKeyKey,
  tenantApiKeysPrefix,
  uploadKey,
  usageDateRange,
  usageDayKey,
  usageMonthKey,
  webhookSecretKey,
} from "../../lib/layout/keys.ts";

const root = join(import.meta.dirname, "../..");

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => join(dir, f));
}

// A key literal in code, not in a comment: `T#${…}`, "KEY#", "ACTIVE", `tenants/${…}`...
const keyLiteral =
  /[`"'](?:T|KEY|J|USAGE|PRL|RATE|DAY|MONTH|IDEMPOTENCY|WEBHOOK_DISABLED|BATCH|B)#|[`"'](?:ACTIVE|STATE|WEBHOOK_SECRET)[`"']|`(?:tenants|sources|uploads|inbox)\/\$\{/;

describe("the storage layout", () => {
  it("is built in lib/layout/keys.ts alone: no other file of the service writes a key by hand", () => {
    const offenders = ["lib", "functions", "infra"]
      .flatMap(sources)
      .filter((f) => f !== join("lib", "layout", "keys.ts"))
      .flatMap((f) =>
        readFileSync(join(root, f), "utf8")
          .split("\n")
          .map((line, i) => ({ line: line.trim(), at: `${f}:${i + 1}` }))
          .filter(({ line }) => !line.startsWith("//") && !line.startsWith("*") && !line.startsWith("/*"))
          .filter(({ line }) => keyLiteral.test(line))
          .map(({ at, line }) => `${at}: ${line}`),
      );
    expect(offenders).toEqual([]);
  });

  // Deployed tables and buckets hold these strings: a change here orphans every stored job, key and counter.
  it("keeps the keys that deployed tables already hold", () => {
    const t0 = Date.UTC(2026, 11, 3, 10, 0, 0);
    expect([
      jobKey("acme", "job_1"),
      jobStatusKey("acme", "running", "job_1"),
      apiKeyKey("key_1"),
      tenantApiKeyKey("acme", "key_1"),
      tenantApiKeysPrefix("acme"),
      rateWindowKey("key_1", 29_505_000),
      dailyImagesKey("key_1", "2026-12-03"),
      activeJobsKey("key_1"),
      providerRateKey("openai", "project-a"),
      idempotencyKey("acme", "ab12"),
      disabledWebhookKey("acme", "cd34"),
      webhookSecretKey("acme"),
      usageDayKey("acme", "2026-12-03", "edit", "gpt-image-2"),
      usageMonthKey("acme", t0),
      usageDateRange("2026-12-01", "2026-12-03"),
    ]).toEqual([
      { pk: "T#acme", sk: "J#job_1" },
      { gsi1pk: "T#acme#S#running", gsi1sk: "J#job_1" },
      { pk: "KEY#key_1", sk: "KEY" },
      { pk: "T#acme", sk: "KEY#key_1" },
      { pk: "T#acme", prefix: "KEY#" },
      { pk: "KEY#key_1", sk: "RATE#29505000" },
      { pk: "KEY#key_1", sk: "DAY#2026-12-03" },
      { pk: "KEY#key_1", sk: "ACTIVE" },
      { pk: "PRL#openai#project-a", sk: "STATE" },
      { pk: "T#acme", sk: "IDEMPOTENCY#ab12" },
      { pk: "T#acme", sk: "WEBHOOK_DISABLED#cd34" },
      { pk: "T#acme", sk: "WEBHOOK_SECRET" },
      { pk: "USAGE#acme", sk: "2026-12-03#edit#gpt-image-2" },
      { pk: "USAGE#acme", sk: "MONTH#2026-12" },
      { from: "2026-12-01", to: "2026-12-03~" },
    ]);
    expect([
      outputKey("acme", "job_1", 0, "jpeg"),
      partialKey("acme", "job_1", 0, 1, "webp"),
      sourceKey("acme", "job_1", "image-0"),
      keptSourceKey("acme", "job_1", "mask", 0),
      keptSourceKey("acme", "job_1", "image", 1, "shoots"),
      uploadKey("acme", "upload_1"),
      idempotencyBodyKey("acme", "ab12"),
    ]).toEqual([
      "tenants/acme/jobs/job_1/output-0.jpg",
      "tenants/acme/jobs/job_1/partial-0-1.webp",
      "sources/acme/job_1/image-0.png",
      "tenants/acme/jobs/job_1/source-mask.png",
      "tenants/acme/folders/shoots/job_1/source-1.png",
      "uploads/acme/upload_1",
      "tenants/acme/idempotency/ab12.json",
    ]);
  });

  it("lists a time range of jobs as a sort-key range, and reads keys back", () => {
    const range = jobRange("01k", "01m");
    expect(range).toEqual({ from: "J#job_01k", to: "J#job_01m" });
    expect(jobRange(undefined, undefined)).toEqual({ from: "J#job_", to: "J#job_~" });
    expect([
      inJobRange("job_01kz", range),
      inJobRange("job_01mz", range),
      inJobRange("job_01j", range),
    ]).toEqual([true, false, false]);
    expect(
      outputKeyPattern.exec(`bucket/${outputKey("acme", "job_01kaaaaaaaaaaaaaaaaaaaaaaa", 2, "png")}`)?.[1],
    ).toBe("acme");
    expect([
      inboxTenant("inbox/acme/cat.png"),
      inboxTenant("inbox/acme/"),
      inboxTenant("other/acme/x"),
    ]).toEqual(["acme", undefined, undefined]);
  });
});
