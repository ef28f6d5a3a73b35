import { parseSettings } from "../../infra/settings.ts";
import { catalog } from "../../lib/catalog/catalog.ts";
import { estimateCostMicroUsd, fromMicroUsd, priceOf } from "../../lib/catalog/prices.ts";
import { awsPrices } from "../scale/model.ts";
import type { AwsCallsPerJob } from "./aws-calls.ts";

// AWS cost per 1,000 images, from the calls one job makes (measured, sections/aws-calls.ts), the capacity units
// DynamoDB reported for them, the invocations' measured durations, and the stack's default settings (the
// worker's memory and batch size, the API's memory). One job makes one image (n = 1) and is polled once.
// The worker's Lambda is billed while it waits on the provider: provider_20s and provider_120s differ only there.

/** The API function's memory (infra/functions.ts); the worker's comes from the stack settings. */
const apiMemoryMb = 1024;
/** Index (gsi1, projection ALL) write units per job, as test/integration/storage-scale.test.ts measures them for a
 *  short prompt: the status partitions queued / running / succeeded take 2 / 3 / 2. Dynalite does not report them. */
const indexWritesPerJob = 7;

export interface CostBreakdown {
  total: number;
  lambda_compute: number;
  lambda_requests: number;
  dynamodb: number;
  sqs: number;
  s3: number;
}

/** The worker's settings the cost depends on; the stack's defaults unless given. */
export interface WorkerShape {
  workerMemoryMb: number;
  workerBatchSize: number;
}

export function costPer1000Images(
  calls: AwsCallsPerJob,
  providerSeconds: number,
  settings: WorkerShape = parseSettings({}),
): CostBreakdown {
  const p = awsPrices;
  const op = (name: string) => calls.by_operation[name] ?? 0;
  const units = (name: string) => calls.capacity_units[name] ?? 0;
  // Several jobs per worker invocation share its memory and its wait: billed once per batch.
  const workerGbSeconds =
    ((settings.workerMemoryMb / 1024) * (providerSeconds + calls.duration_ms.worker / 1000)) /
    settings.workerBatchSize;
  const apiGbSeconds = (apiMemoryMb / 1024) * ((calls.duration_ms.submit + calls.duration_ms.poll) / 1000);
  const invocations = 2 + 1 / settings.workerBatchSize;
  const readUnits = units("DynamoDB.GetItem") + units("DynamoDB.Query");
  const jobItemWriteUnits = Math.ceil(calls.job_item_bytes / 1024);
  const writeUnits =
    units("DynamoDB.PutItem") +
    units("DynamoDB.UpdateItem") +
    units("DynamoDB.DeleteItem") +
    indexWritesPerJob * jobItemWriteUnits;
  // Lambda's event source mapping receives and deletes each message (at worst one request each per message).
  const sqsRequests = op("SQS.SendMessage") + 2;
  // The client downloads each image once, from the presigned URL.
  const s3Gets = op("S3.GetObject") + 1;
  const perJob: Omit<CostBreakdown, "total"> = {
    lambda_compute: (workerGbSeconds + apiGbSeconds) * p.lambdaGbSecondArm,
    lambda_requests: (invocations * p.lambdaPerMillionRequests) / 1e6,
    dynamodb: (readUnits * p.dynamoPerMillionReadUnits + writeUnits * p.dynamoPerMillionWriteUnits) / 1e6,
    sqs: (sqsRequests * p.sqsPerMillionRequests) / 1e6,
    s3: (op("S3.PutObject") * p.s3PerThousandPuts + s3Gets * p.s3PerThousandGets) / 1000,
  };
  const per1000 = Object.fromEntries(Object.entries(perJob).map(([k, v]) => [k, v * 1000])) as Omit<
    CostBreakdown,
    "total"
  >;
  return { total: Object.values(per1000).reduce((a, b) => a + b, 0), ...per1000 };
}

/** What the provider charges for the same 1,000 images (gpt-image-2, 1024×1024), from the catalog's price table. */
export function providerPer1000Images(): Record<string, number> {
  const model = catalog.find((m) => m.id === "gpt-image-2");
  const price = model && priceOf(model);
  const at = (quality: string) =>
    fromMicroUsd(estimateCostMicroUsd(price, [{ width: 1024, height: 1024 }], quality) ?? Number.NaN) * 1000;
  return { "gpt-image-2_low": at("low"), "gpt-image-2_medium": at("medium"), "gpt-image-2_high": at("high") };
}

export function measureCost(calls: AwsCallsPerJob) {
  const settings = parseSettings({});
  return {
    provider_20s: costPer1000Images(calls, 20).total,
    provider_120s: costPer1000Images(calls, 120).total,
    breakdown: { provider_20s: costPer1000Images(calls, 20), provider_120s: costPer1000Images(calls, 120) },
    provider_price_per_1000_images_usd: providerPer1000Images(),
    // What the worker's shape does to provider_20s: the wait on the provider is nearly all of it. A batch of 10
    // assumes full batches (the peak, when the queue has work waiting).
    provider_20s_by_worker: Object.fromEntries(
      [
        [2048, 1],
        [1024, 1],
        [512, 1],
        [2048, 10],
      ].map(([mb, batch]) => [
        `${mb}mb_batch_${batch}`,
        costPer1000Images(calls, 20, { workerMemoryMb: mb as number, workerBatchSize: batch as number })
          .total,
      ]),
    ),
    assumptions: {
      prices_as_of: awsPrices.asOf,
      region: awsPrices.region,
      worker_memory_mb: settings.workerMemoryMb,
      worker_batch_size: settings.workerBatchSize,
      api_memory_mb: apiMemoryMb,
      images_per_job: 1,
      polls_per_job: 1,
    },
  };
}
