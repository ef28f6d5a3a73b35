import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { SqsPoller } from "../../infra/sandbox/poller.ts";
import type { BatchPoller } from "../../lib/jobs/batch-lane.ts";
import type { Job } from "../../lib/jobs/model.ts";
import { JobStore } from "../../lib/jobs/store.ts";
import { createBatchPoller } from "../../lib/runtime.ts";
import { credentials, listKeys } from "../support/emulators.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../support/fake-openai.ts";
import { quietObservability, startLanePollers, workerFunction } from "../support/functions.ts";
import { openaiClient } from "../support/openai.ts";
import { type ServiceStack, startServiceStack } from "../support/service-stack.ts";

// The batch lane through OpenAI's Batch API (issue 16, §3): the real worker submits a batch-priority generation
// as a batch (files + batches on the fake OpenAI) and returns; the real batch poller settles it when the batch ends,
// storing the images as the worker does and pricing them at the batch price. The client is the official SDK.

let service: ServiceStack;
let fake: FakeOpenAI;
let pollers: SqsPoller[];
let store: JobStore;
let poller: BatchPoller;
let client: ReturnType<typeof openaiClient>;
let env: Record<string, string>;

beforeAll(async () => {
  fake = await startFakeOpenAI({ batchDelayMs: 200 });
  const provider = {
    OPENAI_API_KEY: "sk-fake-provider-key-for-batches",
    OPENAI_BASE_URL: fake.baseURL,
    PLACEHOLDER_FALLBACK: "false",
    PROVIDER_MAX_RETRIES: "0",
  };
  service = await startServiceStack({ tenants: ["acme"], worker: false, env: provider });
  env = {
    ...provider,
    BATCH_QUEUE_URL: service.stack.resources.batchQueueUrl as string,
    OPENAI_BATCH_LANE: "true",
  };
  const clients = service.stack.emulators.clients;
  const config = service.stack.config(env);
  const worker = workerFunction(config, clients, { observability: quietObservability() });
  store = new JobStore(clients.dynamodb, service.stack.names.table);
  poller = createBatchPoller(config, clients, { observability: quietObservability() }).poller;
  client = openaiClient(`${await service.serveApi(env)}/v1`, service.keys.acme as string);
  pollers = await startLanePollers(service.stack, worker);
});

afterAll(async () => {
  await Promise.all((pollers ?? []).map((p) => p.stop()));
  await service?.close();
  await fake?.close();
});

beforeEach(() => {
  fake.requests.length = 0;
});

type JobView = {
  id: string;
  status: string;
  priority: string;
  batch?: { id: string; status: string };
} & Record<
  string,
  // biome-ignore lint/suspicious/noExplicitAny: the job view is asserted on field by field.
  any
>;

async function submit(
  input: Record<string, unknown>,
  priority = "batch",
  operation = "generate",
  extra: Record<string, unknown> = {},
) {
  return client.post<JobView>("/jobs", { body: { operation, input, priority, ...extra } });
}

/** The job once the worker has handed it to the Batch API (or settled it). */
async function submitted(id: string): Promise<Job> {
  for (let i = 0; i < 200; i++) {
    const job = await store.get("acme", id, true);
    if (job?.batch || (job && ["succeeded", "failed"].includes(job.status))) return job;
    await new Promise((r) => setTimeout(r, 25));
  }
  const job = await store.get("acme", id, true);
  throw new Error(`Job ${id} was never submitted: ${JSON.stringify({ ...job, input: undefined })}`);
}

/** Polls as the schedule would, until the job has settled. */
async function pollUntilSettled(id: string): Promise<JobView> {
  for (let i = 0; i < 100; i++) {
    await poller.poll();
    const view = await client.get<JobView>(`/jobs/${id}`);
    if (view.status !== "running" && view.status !== "queued") return view;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Job ${id} did not settle`);
}

describe("the batch lane (OpenAI's Batch API)", () => {
  it("a batch-priority generation goes through files + batches, and the poller stores its images at the batch price", async () => {
    // Its webhook hears job.succeeded from the poller (a closed port: delivery itself is not this test's concern).
    const created = await submit(
      { prompt: "a lighthouse at dawn", n: 2, size: "1024x1024", quality: "low" },
      "batch",
      "generate",
      { webhook: { url: "http://127.0.0.1:9/hooks", events: ["job.succeeded"] } },
    );
    expect(created.priority).toBe("batch");
    const job = await submitted(created.id);
    expect(job.status).toBe("running");
    expect(job.batch?.requests).toBe(1);

    // The worker sent one JSONL file and one batch, and never called the synchronous endpoint.
    const paths = fake.requests.map((r) => `${r.method} ${r.path}`);
    expect(paths).toEqual(["POST /v1/files", "POST /v1/batches"]);
    const [upload] = fake.requests;
    expect(upload?.form?.fields.purpose).toEqual(["batch"]);
    const lines = (upload?.form?.files.file?.[0]?.bytes.toString("utf8") ?? "").trim().split("\n");
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      {
        custom_id: `${job.id}:0`,
        method: "POST",
        url: "/v1/images/generations",
        body: expect.objectContaining({
          model: "gpt-image-2",
          prompt: "a lighthouse at dawn",
          n: 2,
          quality: "low",
        }),
      },
    ]);
    const batch = fake.batches.get(job.batch?.id as string);
    expect(batch?.object).toMatchObject({ completion_window: "24h", endpoint: "/v1/images/generations" });
    expect(batch?.object.metadata).toEqual({ job_id: job.id, tenant: "acme" });

    // Shown while it waits: running, with the batch's status.
    const waiting = await client.get<JobView>(`/jobs/${job.id}`);
    expect(waiting.status).toBe("running");
    expect(waiting.batch).toMatchObject({ id: job.batch?.id, status: "validating" });

    const done = await pollUntilSettled(job.id);
    expect(done.status).toBe("succeeded");
    expect(done.batch).toMatchObject({ id: job.batch?.id, status: "completed" });
    expect(done.output.images).toHaveLength(2);
    // The fake's usage: 10 input and 200 output tokens, at the Batch API's $4 / $15 per million (half of $8 / $30).
    expect(done.cost_usd).toBeCloseTo((10 * 4 + 200 * 15) / 1e6, 9);
    expect(done.usage).toMatchObject({ images: 2, provider_calls: 1, input_tokens: 10, output_tokens: 200 });
    expect(done.webhook.deliveries.map((d: { type: string }) => d.type)).toEqual(["job.succeeded"]);
    // Stored as the worker stores images: under the job's keys, real PNGs of the size asked for.
    const keys = await listKeys(
      service.stack.emulators.clients.s3,
      service.stack.names.bucket,
      `tenants/acme/jobs/${job.id}/`,
    );
    expect(keys.sort()).toEqual([
      `tenants/acme/jobs/${job.id}/output-0.png`,
      `tenants/acme/jobs/${job.id}/output-1.png`,
    ]);
    const object = await service.stack.emulators.clients.s3.send(
      new GetObjectCommand({ Bucket: service.stack.names.bucket, Key: keys[0] }),
    );
    const meta = await sharp(Buffer.from((await object.Body?.transformToByteArray()) ?? [])).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["png", 1024, 1024]);
    // Settled: the batch is no longer polled.
    expect((await poller.poll()).open).toBe(0);
  });

  it("a failed batch fails its job with batch_failed; a refused request fails its job with the provider's code", async () => {
    fake.endNextBatch("failed");
    const a = await submit({ prompt: "a failed batch" });
    await submitted(a.id);
    const failed = await pollUntilSettled(a.id);
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatchObject({ code: "batch_failed" });
    expect(failed.batch?.status).toBe("failed");
    expect(failed.error.message).toContain("Line 1 is not valid.");

    const b = await submit({ prompt: "[reject] this one" });
    await submitted(b.id);
    const refused = await pollUntilSettled(b.id);
    expect(refused.status).toBe("failed");
    expect(refused.error).toMatchObject({ code: "content_policy_violation" });
    expect(refused.cost_usd).toBeNull();
  });

  it("edits with priority batch go through the batch queue's worker, not the Batch API", async () => {
    const png = (
      await sharp({ create: { width: 64, height: 64, channels: 3, background: "#808080" } })
        .png()
        .toBuffer()
    ).toString("base64");
    const edit = await submit(
      { prompt: "add a hat", image: `data:image/png;base64,${png}`, size: "1024x1024" },
      "batch",
      "edit",
    );
    const job = await submitted(edit.id);
    const settled = job.status === "running" ? await pollUntilSettled(edit.id) : job;
    expect(settled.status).toBe("succeeded");
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["POST /v1/images/edits"]);
  });

  it("a poll that crashes between storing the images and marking the job is re-run safely", async () => {
    const created = await submit({ prompt: "crash halfway", n: 1 });
    const job = await submitted(created.id);
    // A poller whose DynamoDB client dies on the write that would mark the job succeeded, once.
    const dynamodb = new DynamoDBClient({
      region: "us-east-1",
      endpoint: service.stack.emulators.dynamoEndpoint,
      credentials,
    });
    let crashed = 0;
    dynamodb.middlewareStack.add(
      (next, context) => async (args) => {
        const input = JSON.stringify(args.input);
        if (context.commandName === "UpdateItemCommand" && input.includes('"succeeded"') && crashed === 0) {
          crashed++;
          throw new Error("The poller's process died here");
        }
        return next(args);
      },
      { step: "initialize", name: "crashOnce" },
    );
    const crashing = createBatchPoller(
      service.stack.config(env),
      { ...service.stack.emulators.clients, dynamodb },
      { observability: quietObservability() },
    ).poller;
    await new Promise((r) => setTimeout(r, 250));
    const first = await crashing.poll();
    expect(crashed).toBe(1);
    expect(first.errors).toBe(1);
    const between = await store.get("acme", job.id, true);
    expect(between?.status).toBe("running");
    const prefix = `tenants/acme/jobs/${job.id}/`;
    const s3 = service.stack.emulators.clients.s3;
    expect(await listKeys(s3, service.stack.names.bucket, prefix)).toEqual([`${prefix}output-0.png`]);

    const done = await pollUntilSettled(job.id);
    expect(done.status).toBe("succeeded");
    expect(await listKeys(s3, service.stack.names.bucket, prefix)).toEqual([`${prefix}output-0.png`]);
    // One batch, read twice; never a second submission.
    expect(fake.requests.filter((r) => r.path === "/v1/batches")).toHaveLength(1);
  });
});
