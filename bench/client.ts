import { randomUUID } from "node:crypto";
import type { FakeOpenAI, RecordedRequest } from "../test/support/fake-openai.ts";
import type { Sandbox } from "./harness.ts";
import { epochMs, sleep } from "./stats.ts";

// The bench's client of the service's async API, and the bookkeeping that pairs each job with the provider
// call it caused (by a unique tag in the prompt), so overhead is measured per job, not on averages.

export interface JobView {
  id: string;
  status: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  error: unknown;
}

export const tagPrompt = (tag: string) => `a lighthouse at dawn [bench ${tag}]`;
export const newTag = () => randomUUID().slice(0, 13);

export class BenchClient {
  readonly #url: string;
  readonly #auth: string;

  constructor(sandbox: Pick<Sandbox, "url" | "key">) {
    this.#url = sandbox.url;
    this.#auth = `Bearer ${sandbox.key}`;
  }

  async submit(tag: string, input: Record<string, unknown> = {}): Promise<JobView> {
    const res = await fetch(`${this.#url}/v1/jobs`, {
      method: "POST",
      headers: { authorization: this.#auth, "content-type": "application/json" },
      body: JSON.stringify({
        operation: "generate",
        input: { prompt: tagPrompt(tag), size: "1024x1024", ...input },
      }),
    });
    const body = (await res.json()) as JobView;
    if (res.status !== 202) throw new Error(`POST /v1/jobs gave ${res.status}: ${JSON.stringify(body)}`);
    return body;
  }

  async get(id: string): Promise<JobView> {
    const res = await fetch(`${this.#url}/v1/jobs/${id}`, { headers: { authorization: this.#auth } });
    const body = (await res.json()) as JobView;
    if (res.status !== 200) throw new Error(`GET /v1/jobs/${id} gave ${res.status}: ${JSON.stringify(body)}`);
    return body;
  }

  /**
   * Polls until the job is terminal; returns it and when the client saw it. The interval starts at `pollMs` and
   * doubles up to `maxPollMs`, so a slow job is not hammered with GETs that would load the sandbox it measures.
   */
  async waitDone(
    id: string,
    pollMs: number,
    maxPollMs = pollMs,
    timeoutMs = 60_000,
  ): Promise<{ job: JobView; seenAt: number }> {
    const deadline = Date.now() + timeoutMs;
    for (let delay = pollMs; ; delay = Math.min(maxPollMs, delay * 2)) {
      const job = await this.get(id);
      if (job.status === "succeeded") return { job, seenAt: epochMs() };
      if (job.status === "failed" || job.status === "canceled")
        throw new Error(`job ${id} ${job.status}: ${JSON.stringify(job.error)}`);
      if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status} after ${timeoutMs} ms`);
      if (delay > 0) await sleep(delay);
    }
  }
}

/**
 * The provider's side of each job, from the fake's own timings: first request start to last response written
 * (n above the per-call limit means several calls). Also tells the client when a job's provider work is done,
 * so it polls only for the last stretch instead of loading the sandbox with GETs the whole time.
 */
export class ProviderLog {
  readonly #spans = new Map<string, { start: number; end: number }>();
  readonly #waiters = new Map<string, () => void>();
  readonly #unsubscribe: () => void;

  constructor(provider: FakeOpenAI) {
    this.#unsubscribe = provider.onResponse((r) => {
      const tag = tagOf(r);
      if (!tag || r.finishedAt === undefined) return;
      const span = this.#spans.get(tag);
      this.#spans.set(
        tag,
        span
          ? { start: Math.min(span.start, r.startedAt), end: Math.max(span.end, r.finishedAt) }
          : { start: r.startedAt, end: r.finishedAt },
      );
      this.#waiters.get(tag)?.();
    });
  }

  /** Resolves once the provider has answered a call for `tag`. */
  answered(tag: string): Promise<void> {
    if (this.#spans.has(tag)) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiters.set(tag, () => {
        this.#waiters.delete(tag);
        resolve();
      });
    });
  }

  span(tag: string): { start: number; end: number } {
    const span = this.#spans.get(tag);
    if (!span) throw new Error(`no provider call recorded for job ${tag}`);
    return span;
  }

  providerMs(tag: string): number {
    const span = this.span(tag);
    return span.end - span.start;
  }

  close(): void {
    this.#unsubscribe();
  }
}

/** The bench tag in a provider request's prompt, which pairs it with the client call that caused it. */
export function tagOf(r: RecordedRequest): string | undefined {
  const prompt = r.json?.prompt;
  return typeof prompt === "string" ? /\[bench ([^\]]+)\]/.exec(prompt)?.[1] : undefined;
}
