import type * as z from "zod/mini";
import type { TokenUsage } from "../../catalog/prices.ts";
import type { JobWork } from "../inputs.ts";
import type { Job, JobOf } from "../model.ts";
import type { ProviderImage } from "../ports/provider.ts";
import type { ImageStorage } from "../ports/storage.ts";
import type { ProviderRegistry } from "../registry.ts";
import type { ImageSources } from "../sources.ts";
import type { ParamName } from "./output.ts";

export interface ExecutionContext {
  registry: ProviderRegistry;
  images: ImageStorage;
  /** Aborts when the provider budget (timeout, or the invocation's remaining time) runs out. */
  signal: AbortSignal;
  /** When `signal` fires (epoch ms): providers retry within it, and leave later retries to the queue. */
  deadline: number;
  /** The folder under the tenant's prefix where kept inputs go (TENANT_SOURCE_FOLDERS); beside the outputs when none. */
  sourcesFolder?: ((tenant: string) => string | undefined) | undefined;
  /** Where partial images go (stored and announced, lib/jobs/partials.ts) when the job asks for them. */
  onPartialImage?: ((image: number, index: number, data: Buffer) => Promise<void>) | undefined;
}

/** What an operation produced; the runner conforms, stores and records it. */
export interface Execution {
  images: ProviderImage[];
  usages: (TokenUsage | undefined)[];
  /** The quality the provider says it made, when it says (ProviderResult.quality). */
  quality?: string | undefined;
  providerCalls: number;
  providerMs: number;
  provider: string;
  /** The model that made the images: the job's, or a fallback of it. */
  model: string;
  /** Models tried before, whose providers were down, slow or throttling. */
  fallbacks?: { model: string; provider: string; failure: string; message: string }[] | undefined;
  notice?: string | undefined;
  /** Recorded in the job's `output` beside its images. */
  output?: Omit<NonNullable<Job["output"]>, "images"> | undefined;
}

export type Executor = (job: Job, ctx: ExecutionContext) => Promise<Execution>;

/** What preparing a request needs: the models, and where input images come from and go. */
export interface PrepareContext {
  registry: ProviderRegistry;
  sources: ImageSources;
  tenant: string;
  /** The job's id, chosen before it exists so its inputs can be stored under it first. */
  jobId: string;
  /** The size a request that gives none gets, where its endpoint has a default of its own (OpenAI's). */
  defaultSize?: string | undefined;
}

type Operation = Job["operation"];
export type InputOf<O extends Operation> = Extract<JobWork, { operation: O }>["input"];

/** One operation, as data: its request schema, how a request becomes a job input, and how a job runs. */
export interface OperationSpec<O extends Operation, R extends z.ZodMiniType = z.ZodMiniType> {
  request: R;
  prepare(req: z.infer<R>, ctx: PrepareContext, paramPath: ParamName): Promise<InputOf<O>>;
  execute(job: JobOf<O>, ctx: ExecutionContext): Promise<Execution>;
}
