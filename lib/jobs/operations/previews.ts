import * as z from "zod/mini";
import { optionalParam } from "../../validation.ts";
import type { PartialImageOptions } from "../ports/provider.ts";
import { splitCount } from "./output.ts";
import type { ExecutionContext } from "./types.ts";

/**
 * OpenAI's streaming fields, on the requests of the operations that can stream (generate, edit, outpaint).
 * `stream` shapes the answer of POST /v1/images/* (lib/api/image-stream.ts) and is not kept on the job;
 * `partial_images` is: the worker asks the provider for that many previews of each image.
 */
export const previewRequestFields = {
  stream: optionalParam(z.boolean()),
  partial_images: optionalParam(z.number().check(z.int(), z.gte(0), z.lte(3))),
};

/** What a job keeps of the streaming fields. */
export const previewInput = (req: { partial_images?: number | undefined }) =>
  req.partial_images === undefined ? {} : { partial_images: req.partial_images };

export interface ProviderCall {
  /** Images this call makes. */
  n: number;
  /** Where its partial images go, when the job asks for them. */
  previews: PartialImageOptions;
}

/**
 * The provider calls that make a job's `n` images: `perCall` images each, or one each when the job asks for
 * partial images, since a preview does not say which image of several it belongs to. Each call's previews are
 * handed on as those of the output image it makes.
 */
export function providerCalls(
  input: { n: number; partial_images?: number | undefined },
  perCall: number,
  ctx: Pick<ExecutionContext, "onPartialImage">,
): ProviderCall[] {
  const partials = input.partial_images ?? 0;
  const sink = ctx.onPartialImage;
  if (partials === 0 || !sink) return splitCount(input.n, perCall).map((n) => ({ n, previews: {} }));
  return Array.from({ length: input.n }, (_, image) => ({
    n: 1,
    previews: {
      partialImages: partials,
      onPartialImage: (p) => sink(image, p.index, p.data),
    },
  }));
}
