import type { ProviderRegistry } from "../../providers/registry.ts";
import type { ProviderImage, TokenUsage } from "../../providers/types.ts";
import type { ImageStore } from "../../storage/images.ts";
import type { Job } from "../model.ts";

export interface ExecutionContext {
  registry: ProviderRegistry;
  images: ImageStore;
  /** Aborts when the provider budget (timeout, or the invocation's remaining time) runs out. */
  signal: AbortSignal;
  /** When `signal` fires (epoch ms): providers retry within it, and leave later retries to the queue. */
  deadline: number;
}

/** What an operation produced; the runner conforms, stores and records it. */
export interface Execution {
  images: ProviderImage[];
  usages: (TokenUsage | undefined)[];
  providerCalls: number;
  providerMs: number;
  provider: string;
  notice?: string | undefined;
}

export type Executor = (job: Job, ctx: ExecutionContext) => Promise<Execution>;
