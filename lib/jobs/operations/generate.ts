import * as z from "zod/mini";
import { InvalidRequestError } from "../../errors.ts";
import { parseSize, sizeProblem } from "../../providers/catalog.ts";
import type { ProviderRegistry } from "../../providers/registry.ts";
import type { GenerateInput, Job } from "../model.ts";
import type { Execution, ExecutionContext } from "./types.ts";

/** POST /v1/images/generations, and `input` of a generate job: OpenAI's request shape. */
export const generateRequest = z.strictObject({
  prompt: z.string().check(z.minLength(1), z.maxLength(32_000)),
  model: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
  n: z.optional(z.number().check(z.int(), z.gte(1), z.lte(10))),
  size: z.optional(z.string().check(z.maxLength(16))),
  quality: z.optional(z.enum(["auto", "low", "medium", "high", "standard", "hd", "xhigh", "max"])),
  style: z.optional(z.enum(["vivid", "natural"])),
  response_format: z.optional(z.enum(["url", "b64_json"])),
  output_format: z.optional(z.enum(["png", "jpeg", "webp"])),
  output_compression: z.optional(z.number().check(z.int(), z.gte(0), z.lte(100))),
  background: z.optional(z.enum(["transparent", "opaque", "auto"])),
  moderation: z.optional(z.enum(["low", "auto"])),
  user: z.optional(z.string().check(z.maxLength(256))),
  stream: z.optional(z.literal(false)),
});
export type GenerateRequest = z.infer<typeof generateRequest>;

/** Checks a request against its model's capabilities and fills in defaults. `prefix` names nested params. */
export function prepareGenerate(
  req: GenerateRequest,
  registry: ProviderRegistry,
  prefix = "",
): GenerateInput {
  const param = (name: string) => `${prefix}${name}`;
  const { model } = registry.resolve(req.model, "generate", param("model"));
  const size = req.size ?? "auto";
  const problem = sizeProblem(model, size);
  if (problem) throw new InvalidRequestError(`Invalid size '${size}': ${problem}.`, { param: param("size") });
  if (req.quality !== undefined && !model.qualities.includes(req.quality)) {
    throw new InvalidRequestError(
      `${model.id} does not support quality '${req.quality}'. Use one of: ${model.qualities.join(", ")}.`,
      { param: param("quality") },
    );
  }
  if (req.style !== undefined && !model.styles.includes(req.style)) {
    throw new InvalidRequestError(`${model.id} does not support 'style'.`, { param: param("style") });
  }
  const outputFormat = req.output_format ?? "png";
  if (req.background === "transparent") {
    if (!model.transparentBackground) {
      throw new InvalidRequestError(`${model.id} cannot make transparent backgrounds.`, {
        param: param("background"),
      });
    }
    if (outputFormat === "jpeg") {
      throw new InvalidRequestError(
        "A transparent background needs output_format 'png' or 'webp'; JPEG has no alpha.",
        {
          param: param("background"),
        },
      );
    }
  }
  return {
    prompt: req.prompt,
    model: model.id,
    n: req.n ?? 1,
    size,
    output_format: outputFormat,
    response_format: req.response_format ?? "url",
    ...(req.quality !== undefined && { quality: req.quality }),
    ...(req.style !== undefined && { style: req.style }),
    ...(req.output_compression !== undefined && { output_compression: req.output_compression }),
    ...(req.background !== undefined && { background: req.background }),
    ...(req.moderation !== undefined && { moderation: req.moderation }),
    ...(req.user !== undefined && { user: req.user }),
  };
}

/** Splits `n` into provider calls of at most `perCall` images each. */
export function splitCount(n: number, perCall: number): number[] {
  const calls: number[] = [];
  for (let left = n; left > 0; left -= perCall) calls.push(Math.min(perCall, left));
  return calls;
}

/** Runs a generate job: one provider call per `maxImagesPerCall` images, concurrently. */
export async function executeGenerate(job: Job, ctx: ExecutionContext): Promise<Execution> {
  const input = job.input;
  const { model, provider, standIn } = ctx.registry.resolve(input.model, "generate");
  const size =
    input.size === "auto" ? (standIn ? parseSize(model.defaultSize) : undefined) : parseSize(input.size);
  const calls = splitCount(input.n, model.maxImagesPerCall);
  const started = Date.now();
  const results = await Promise.all(
    calls.map((n, call) =>
      provider.generate({
        model,
        prompt: input.prompt,
        n,
        size,
        quality: input.quality,
        style: input.style,
        outputFormat: input.output_format,
        outputCompression: input.output_compression,
        background: input.background,
        moderation: input.moderation,
        user: input.user,
        seed: `${job.id}:${call}`,
        signal: ctx.signal,
        deadline: ctx.deadline,
      }),
    ),
  );
  return {
    images: results.flatMap((r) => r.images).slice(0, input.n),
    usages: results.map((r) => r.usage),
    providerCalls: calls.length,
    providerMs: Date.now() - started,
    provider: provider.name,
    notice: standIn
      ? `Made offline by the placeholder provider standing in for ${model.id}. Configure the ${model.provider} provider for real images.`
      : undefined,
  };
}
