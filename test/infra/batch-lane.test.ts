import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseSettings, SettingsError } from "../../infra/settings.ts";
import type { Json } from "../support/http.ts";
import { removeSynthOutput, type Synth, synth } from "../support/stack-synth.ts";

// Priority lanes in the stack (issue 16, §3; infra/constructs/batch-lane.ts): the batch lane's queue, served by the
// worker through a second event source mapping with a low MaximumConcurrency; with openaiBatchLane, the batch
// poller on an EventBridge schedule.

let plain: Synth;
let lane: Synth;
beforeAll(() => {
  plain = synth();
  lane = synth({ openaiBatchLane: "true", batchLaneMaxConcurrency: "3", batchPollMinutes: "2" });
});
afterAll(removeSynthOutput);

const mappingsOf = (s: Synth, id: string) =>
  s
    .ofType("AWS::Lambda::EventSourceMapping")
    .filter(([, m]) => m.Properties.FunctionName.Ref === s.logicalId(id))
    .map(([, m]) => m.Properties as Json);

const batchQueueOf = (s: Synth) => {
  const queues = s.ofType("AWS::SQS::Queue").filter(([k]) => k.startsWith("BatchLaneQueue"));
  expect(queues).toHaveLength(1);
  return queues[0] as [string, Json];
};

describe("the batch lane", () => {
  it("is a queue of its own that dead-letters to the jobs DLQ, with the jobs queue's delivery policy", () => {
    const [, queue] = batchQueueOf(plain);
    const [jobsId, jobs] = plain.byPrefix("AWS::SQS::Queue", "JobsQueue");
    expect(jobsId).not.toMatch(/^BatchLane/);
    expect(queue.Properties.RedrivePolicy).toEqual(jobs.Properties.RedrivePolicy);
    expect(queue.Properties.VisibilityTimeout).toBe(jobs.Properties.VisibilityTimeout);
    expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
  });

  it("is served by the worker through a second mapping with a low MaximumConcurrency, beside the jobs queue's", () => {
    const [queueId] = batchQueueOf(lane);
    const mappings = mappingsOf(lane, "Worker");
    expect(mappings).toHaveLength(2);
    const batch = mappings.find((m) => m.EventSourceArn["Fn::GetAtt"][0] === queueId);
    expect(batch).toMatchObject({
      ScalingConfig: { MaximumConcurrency: 3 },
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
    const interactive = mappings.find((m) => m !== batch);
    expect(interactive?.ScalingConfig.MaximumConcurrency).toBe(lane.settings.workerMaxConcurrency);
    // The API sends batch jobs there; the worker backs off on it.
    for (const id of ["Api", "Worker"])
      expect(lane.fn(id).Properties.Environment.Variables.BATCH_QUEUE_URL).toEqual({ Ref: queueId });
  });

  it("has no poller, schedule or Batch API unless openaiBatchLane is set", () => {
    expect(plain.stack.functions.has("BatchPoller")).toBe(false);
    expect(plain.ofType("AWS::Events::Rule")).toEqual([]);
    expect(plain.fn("Worker").Properties.Environment.Variables.OPENAI_BATCH_LANE).toBeUndefined();
  });

  it("polls OpenAI's batches on a schedule, with the provider key, and the worker submits them", () => {
    const rules = lane.ofType("AWS::Events::Rule");
    expect(rules).toHaveLength(1);
    const [, rule] = rules[0] as [string, Json];
    expect(rule.Properties.ScheduleExpression).toBe("rate(2 minutes)");
    expect(rule.Properties.State).toBe("ENABLED");
    expect(rule.Properties.Targets).toHaveLength(1);
    expect(rule.Properties.Targets[0].Arn).toEqual({ "Fn::GetAtt": [lane.logicalId("BatchPoller"), "Arn"] });
    // EventBridge may invoke the poller, and nothing else is given that right.
    const permissions = lane
      .ofType("AWS::Lambda::Permission")
      .filter(([, p]) => p.Properties.Principal === "events.amazonaws.com");
    expect(permissions.map(([, p]) => p.Properties.FunctionName)).toEqual([
      { "Fn::GetAtt": [lane.logicalId("BatchPoller"), "Arn"] },
    ]);
    const poller = lane.fn("BatchPoller").Properties.Environment.Variables;
    expect(poller.OPENAI_BATCH_LANE).toBe("true");
    expect(poller.OPENAI_API_KEY_SECRET_ARN).toBeDefined();
    expect(mappingsOf(lane, "BatchPoller")).toEqual([]);
    expect(lane.fn("Worker").Properties.Environment.Variables.OPENAI_BATCH_LANE).toBe("true");
  });

  it("refuses openaiBatchLane without OpenAI", () => {
    expect(() => parseSettings({ openaiBatchLane: "true", openaiEnabled: "false" })).toThrow(SettingsError);
  });
});
