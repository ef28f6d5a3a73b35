import type { SQSClient } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { FairBuffer } from "../../infra/sandbox/fair-buffer.ts";
import { jobMessageGroup } from "../../infra/sandbox/sandbox.ts";
import { JobQueue } from "../../lib/jobs/queue.ts";

describe("FairBuffer (SQS fair queues in the sandbox)", () => {
  it("hands the next slot to the group with the fewest messages in flight, in arrival order within a group", () => {
    const buffer = new FairBuffer<string>();
    for (let i = 0; i < 6; i++) buffer.push(`a${i}`, "a", 0);
    buffer.push("b0", "b", 0);
    buffer.push("b1", "b", 0);
    const first = buffer.take();
    expect(first).toEqual({ item: "a0", group: "a" });
    // a holds one in flight, b none: b goes next though all of a's arrived first.
    expect(buffer.take()?.item).toBe("b0");
    // Both hold one: the older waiting message wins.
    expect(buffer.take()?.item).toBe("a1");
    expect(buffer.take()?.item).toBe("b1");
    expect(buffer.inFlight("a")).toBe(2);
    buffer.done("a");
    buffer.done("a");
    expect(buffer.inFlight("a")).toBe(0);
    expect(buffer.size).toBe(4);
    expect(buffer.take()?.item).toBe("a2");
  });

  it("renews only messages held too long, and drains what waits", () => {
    const buffer = new FairBuffer<string>();
    buffer.push("old", "a", 1_000);
    buffer.push("new", "a", 20_000);
    expect(buffer.renewOlderThan(10_000, 30_000)).toEqual(["old"]);
    expect(buffer.renewOlderThan(10_000, 30_000)).toEqual([]);
    expect(buffer.drain().sort()).toEqual(["new", "old"]);
    expect(buffer.size).toBe(0);
    expect(buffer.take()).toBeUndefined();
  });

  it("reads a job message's group from MessageGroupId, else from the tenant in its body", () => {
    expect(jobMessageGroup({ Attributes: { MessageGroupId: "acme" }, Body: "{}" })).toBe("acme");
    expect(jobMessageGroup({ Body: JSON.stringify({ v: 1, tenant: "other", job_id: "job_x" }) })).toBe(
      "other",
    );
    expect(jobMessageGroup({ Body: "not json" })).toBe("");
  });
});

describe("JobQueue", () => {
  it("sends every job with MessageGroupId = tenant, for SQS fair queues", async () => {
    const sent: Record<string, unknown>[] = [];
    const sqs = { send: async (command: { input: Record<string, unknown> }) => sent.push(command.input) };
    await new JobQueue(sqs as unknown as SQSClient, "http://queue").send({
      v: 1,
      tenant: "acme",
      job_id: "job_1",
    });
    expect(sent).toEqual([expect.objectContaining({ QueueUrl: "http://queue", MessageGroupId: "acme" })]);
  });
});
