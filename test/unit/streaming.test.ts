import { describe, expect, it } from "vitest";
import { jobEvents } from "../../lib/api/routes/job-events.ts";
import { errorFrame, jsonWithBase64, sseFrame } from "../../lib/api/sse.ts";
import { SyncWaitTimeoutError } from "../../lib/errors.ts";
import type { Job, PartialImage } from "../../lib/jobs/model.ts";
import { announceProgress, announceSettled, handedOverImages, watchSettled } from "../../lib/jobs/signals.ts";
import { parseSse } from "../support/openai-schemas.ts";

// The pieces of streaming that need no emulator: SSE frames, the fixed order of a job's events (what makes
// Last-Event-ID resumable), and the in-process wake-up of a stream when a partial image is recorded.

describe("SSE frames", () => {
  it("write event, id, retry and data lines, then a blank line", () => {
    expect(sseFrame({ event: "image_generation.completed", data: '{"a":1}' })).toBe(
      'event: image_generation.completed\ndata: {"a":1}\n\n',
    );
    expect(sseFrame({ event: "job.running", id: "3", data: "{}" })).toBe(
      "event: job.running\nid: 3\ndata: {}\n\n",
    );
    // retry alone dispatches no event: it only tells EventSource when to reconnect.
    expect(sseFrame({ retry: 1000 })).toBe("retry: 1000\n\n");
    expect(parseSse(sseFrame({ retry: 1000 }))).toEqual([]);
  });

  it("splice base64 into JSON exactly as JSON.stringify would write it", () => {
    const b64 = Buffer.from("an image").toString("base64");
    const fields = { type: "image_edit.partial_image", partial_image_index: 1, size: "1024x1024" };
    expect(JSON.parse(jsonWithBase64(b64, fields))).toEqual({ b64_json: b64, ...fields });
    expect(JSON.parse(jsonWithBase64(b64, {}))).toEqual({ b64_json: b64 });
  });

  it("send an error after the stream began as OpenAI's error event", () => {
    const [frame] = parseSse(errorFrame(new SyncWaitTimeoutError("job_x", 25_000)));
    expect(frame?.event).toBe("error");
    expect(JSON.parse(frame?.data ?? "")).toMatchObject({
      error: { code: "job_pending", type: "timeout_error" },
    });
  });
});

const partial = (image: number, index: number, attempt: number): PartialImage => ({
  image,
  index,
  attempt,
  key: `tenants/t/jobs/job_x/partial-${image}-${index}.png`,
  format: "png",
  width: 64,
  height: 64,
  bytes: 100,
  created_at: 1_000 + index,
});

describe("a job's events", () => {
  const base = {
    id: "job_01m80rpw4r12tsp0d90rd39bqh",
    tenant: "t",
    operation: "generate",
    input: {
      model: "gpt-image-2",
      n: 1,
      size: "auto",
      output_format: "png",
      response_format: "url",
      prompt: "x",
    },
    model: "gpt-image-2",
    provider: "openai",
    created_at: 1_000,
    updated_at: 1_000,
  } as const;
  const at = (fields: Partial<Job>) => ({ ...base, status: "queued", attempts: 0, ...fields }) as Job;
  const names = (job: Job) => jobEvents(job).map((e) => e.event);

  it("only ever grow, so an event's position is its id across a job's life, retries included", () => {
    // A life with a retry: attempt 1 records a preview and fails; attempt 2 records the next one and succeeds.
    const life = [
      at({}),
      at({ status: "running", attempts: 1 }),
      at({ status: "running", attempts: 1, partials: [partial(0, 0, 1)] }),
      at({ status: "queued", attempts: 1, partials: [partial(0, 0, 1)] }),
      at({ status: "running", attempts: 2, partials: [partial(0, 0, 1)] }),
      at({ status: "running", attempts: 2, partials: [partial(0, 0, 1), partial(0, 1, 2)] }),
      at({ status: "succeeded", attempts: 2, partials: [partial(0, 0, 1), partial(0, 1, 2)] }),
    ];
    for (let i = 1; i < life.length; i++) {
      const before = names(life[i - 1] as Job);
      expect(names(life[i] as Job).slice(0, before.length)).toEqual(before);
    }
    expect(names(life.at(-1) as Job)).toEqual([
      "job.queued",
      "job.running",
      "job.partial_image",
      "job.running",
      "job.partial_image",
      "job.succeeded",
    ]);
  });

  it("end with the job's terminal status, also for a job canceled before it ran", () => {
    expect(names(at({ status: "canceled" }))).toEqual(["job.queued", "job.canceled"]);
    expect(names(at({ status: "failed", attempts: 1 }))).toEqual(["job.queued", "job.running", "job.failed"]);
  });
});

describe("progress signals", () => {
  it("wake a stream's watch with the newest recorded partial image, and leave settle-only watches asleep", async () => {
    const id = "job_progress_a";
    const stream = watchSettled(id, { progress: true });
    const settleOnly = watchSettled(id);
    const one = at1(1, 2_000);
    const two = at1(2, 2_001);
    announceProgress(id, two);
    announceProgress(id, one); // an earlier write's record, announced late
    const started = Date.now();
    await stream.wait(20_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(stream.takeProgress()).toBe(two);
    expect(stream.takeProgress()).toBeUndefined();
    let woke = false;
    void settleOnly.wait(50).then(() => {
      woke = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(woke).toBe(false);
    announceSettled(id);
    await new Promise((r) => setImmediate(r));
    expect(woke).toBe(true);
    stream.close();
    settleOnly.close();
  });
});

describe("handed-over images", () => {
  it("ride with the announced record to a watcher in this process, and are not kept when none listens", () => {
    const bytes = new Map([["tenants/t/jobs/job_h/partial-0-0.png", Buffer.from("png")]]);
    const unwatched = at1(1, 3_000);
    announceProgress("job_handover", unwatched, bytes);
    announceSettled("job_handover", unwatched, bytes);
    expect(handedOverImages(unwatched)).toBeUndefined();
    const watch = watchSettled("job_handover", { progress: true });
    const record = at1(1, 3_001);
    announceProgress("job_handover", record, bytes);
    expect(watch.takeProgress()).toBe(record);
    expect(handedOverImages(record)).toBe(bytes);
    const done = { ...record, status: "succeeded" } as Job;
    announceSettled("job_handover", done, bytes);
    expect(watch.settled).toBe(done);
    expect(handedOverImages(done)).toBe(bytes);
    watch.close();
  });
});

function at1(partials: number, updatedAt: number): Job {
  return {
    id: "job_progress_a",
    status: "running",
    updated_at: updatedAt,
    partials: Array.from({ length: partials }, (_, i) => partial(0, i, 1)),
  } as Job;
}
