import { performance } from "node:perf_hooks";
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import { lambdaContext } from "../../infra/sandbox/lambda.ts";
import { KeyStore } from "../../lib/auth/keys.ts";
import { AwsCallCounter } from "../../lib/aws-calls.ts";
import { type ItemKey, jobKey } from "../../lib/layout/keys.ts";
import { createClients } from "../../lib/runtime.ts";
import { credentials, startTestStack } from "../../test/support/emulators.ts";
import type { FakeOpenAI } from "../../test/support/fake-openai.ts";
import { apiFunction, quietObservability, workerFunction } from "../../test/support/functions.ts";
import { apiEvent, receiveEvent } from "../../test/support/lambda.ts";
import { itemBytes } from "../scale/model.ts";
import { median } from "../stats.ts";

// AWS calls per job: the API handler and the worker's runner in this process, on emulators of their own, with a
// counter on the clients they are given (lib/aws-calls.ts; every call goes through it). One job is:
// POST /v1/jobs (generate, 1 image, no webhook) + the worker's invocation for that one message + one
// GET /v1/jobs/{id}. SQS's receive and delete are made by Lambda's event source mapping, not by the function: they
// are not counted here (the cost section bills them). Jobs run one after another, so each count is one job's.

export const callsDefinition =
  "POST /v1/jobs (generate, 1 image, no webhook) + the worker invocation for its message + one GET /v1/jobs/{id}; " +
  "SQS receive/delete by Lambda's event source mapping are not function calls (billed in the cost figure)";

export interface AwsCallsPerJob {
  total: number;
  by_operation: Record<string, number>;
  /** Table capacity units the calls consumed (RRU for reads, WRU for writes), by operation; indexes excluded. */
  capacity_units: Record<string, number>;
  /** The succeeded job's item, sized as DynamoDB sizes it. */
  job_item_bytes: number;
  /** Medians over the jobs, provider at 0 ms: what each invocation bills beyond waiting on the provider. */
  duration_ms: { submit: number; poll: number; worker: number };
  jobs: number;
  definition: string;
}

export async function measureAwsCalls(provider: FakeOpenAI, jobs = 5): Promise<AwsCallsPerJob> {
  const stack = await startTestStack();
  // The event source mapping's stand-in: a client of its own, not counted.
  const esm = new SQSClient({ region: "us-east-1", endpoint: stack.emulators.awsEndpoint, credentials });
  try {
    provider.setLatency(0);
    const config = stack.config({
      OPENAI_API_KEY: "sk-bench-not-a-real-key",
      OPENAI_BASE_URL: provider.baseURL,
      PROVIDER_MAX_RETRIES: "0",
    });
    const counter = new AwsCallCounter();
    const clients = createClients(config, { credentials, counter });
    const observability = quietObservability();
    const api = apiFunction(config, clients, { observability }).handler;
    const worker = workerFunction(config, clients, { observability });
    const key = KeyStore.generate();
    await new KeyStore(stack.emulators.clients.dynamodb, stack.names.table).put(key, "bench", "bench");
    const headers = { authorization: `Bearer ${key}` };
    const perJob: ReturnType<AwsCallCounter["take"]>[] = [];
    const durations: { submit: number[]; poll: number[]; worker: number[] } = {
      submit: [],
      poll: [],
      worker: [],
    };
    let lastId = "";
    for (let i = 0; i < jobs; i++) {
      counter.take();
      let t = performance.now();
      const submitted = await api(
        apiEvent("POST", "/v1/jobs", {
          headers,
          body: { operation: "generate", input: { prompt: `a lighthouse ${i}`, size: "1024x1024" } },
        }),
        lambdaContext("api", 30_000),
      );
      durations.submit.push(performance.now() - t);
      if (typeof submitted !== "object" || submitted.statusCode !== 202)
        throw new Error(`POST /v1/jobs gave ${JSON.stringify(submitted).slice(0, 300)}`);
      lastId = (JSON.parse(submitted.body ?? "{}") as { id: string }).id;
      const event = await receiveEvent(esm, stack.resources.jobsQueueUrl, 1, 5);
      if (event.Records.length !== 1) throw new Error("the job's message did not arrive");
      t = performance.now();
      const batch = await worker.invoke(event);
      durations.worker.push(performance.now() - t);
      if (batch.batchItemFailures.length > 0) throw new Error("the worker failed the job's message");
      t = performance.now();
      const view = await api(
        apiEvent("GET", `/v1/jobs/${lastId}`, { headers }),
        lambdaContext("api", 30_000),
      );
      durations.poll.push(performance.now() - t);
      const status =
        typeof view === "object" && (JSON.parse(view.body ?? "{}") as { status?: string }).status;
      if (status !== "succeeded") throw new Error(`job ${lastId} ended ${status}`);
      perJob.push(counter.take());
    }
    // Every job makes the same calls: clients and configuration are made before the first.
    const distinct = new Set(perJob.map((c) => JSON.stringify(c.calls)));
    if (distinct.size > 1) throw new Error(`jobs made different calls: ${[...distinct].join(" vs ")}`);
    const last = perJob[perJob.length - 1] ?? { calls: {}, capacityUnits: {} };
    const item = await stack.emulators.clients.dynamodb.send(
      new GetItemCommand({ TableName: stack.names.table, Key: marshalKey(jobKey("bench", lastId)) }),
    );
    return {
      total: Object.values(last.calls).reduce((a, b) => a + b, 0),
      by_operation: last.calls,
      capacity_units: last.capacityUnits,
      job_item_bytes: itemBytes(item.Item ?? {}),
      duration_ms: {
        submit: median(durations.submit),
        poll: median(durations.poll),
        worker: median(durations.worker),
      },
      jobs,
      definition: callsDefinition,
    };
  } finally {
    esm.destroy();
    await stack.emulators.stop();
  }
}

const marshalKey = (k: ItemKey) => ({ pk: { S: k.pk }, sk: { S: k.sk } });
