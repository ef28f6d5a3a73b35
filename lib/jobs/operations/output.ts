import * as z from "zod/mini";
import {
  aspectRatios,
  catalog,
  type Dimensions,
  type ModelSpec,
  nearestSize,
  parseSize,
  sizeForAspectRatio,
  sizeProblem,
} from "../../catalog/catalog.ts";
import { optionalParam } from "../../validation.ts";
import { InvalidInput } from "../errors.ts";

/** 16 to 4096, as a pattern, so the API reference states the bounds as exactly as the validator checks them. */
const side = "(?:1[6-9]|[2-9]\\d|[1-9]\\d{2}|[1-3]\\d{3}|40[0-8]\\d|409[0-6])";

// The request fields every operation shares (model, how many, what size, what format), and their checks
// against the model. One place, so generate, edit, variation and outpaint answer alike.

/** Every quality some catalogued model takes; outputOptions holds a request to its own model's. */
const qualities = [...new Set(catalog.flatMap((m) => m.qualities))] as [string, ...string[]];

/** The document says which model takes which quality: catalog data, so a new model needs no edit here. */
const qualitiesByModel = (() => {
  const groups = new Map<string, string[]>();
  for (const m of catalog) {
    if (m.aliasOf) continue;
    const key = m.qualities.join(", ");
    groups.set(key, [...(groups.get(key) ?? []), m.id]);
  }
  const list = [...groups].map(([q, ids]) => `${ids.join(", ")}: ${q}`).join("; ");
  return `Each model takes its own qualities (GET /v1/models lists them; an alias takes its model's). ${list}.`;
})();

// Every optional field takes null as "not given", as OpenAI's do (optionalParam).
export const outputRequestFields = {
  model: optionalParam(z.string().check(z.minLength(1), z.maxLength(128))),
  n: optionalParam(z.number().check(z.int(), z.gte(1), z.lte(10))),
  size: optionalParam(z.string().check(z.maxLength(16))),
  /** An alternative to `size`: mapped to the nearest size the model supports. */
  aspect_ratio: optionalParam(z.enum(aspectRatios)),
  /**
   * The size the images are delivered at, which the model need not support: they are made at `size` (by default
   * the supported size nearest to this one), then resized, cropped to the centre where the aspect differs.
   */
  output_size: optionalParam(
    z
      .string()
      .check(z.regex(new RegExp(`^${side}x${side}$`), "must be WIDTHxHEIGHT, each side 16 to 4096 px")),
  ),
  quality: optionalParam(z.enum(qualities).check(z.describe(qualitiesByModel))),
  response_format: optionalParam(
    z
      .enum(["url", "b64_json"])
      .check(
        z.describe(
          "b64_json by default, as OpenAI's GPT image models answer (a deployment may set DEFAULT_RESPONSE_FORMAT=url); url: presigned URLs of the images in this deployment's bucket, which GET /v1/jobs/{id} presigns again later.",
        ),
      ),
  ),
  output_format: optionalParam(z.enum(["png", "jpeg", "webp"])),
  output_compression: optionalParam(z.number().check(z.int(), z.gte(0), z.lte(100))),
  background: optionalParam(z.enum(["transparent", "opaque", "auto"])),
  user: optionalParam(z.string().check(z.maxLength(256))),
};

const outputRequest = z.object(outputRequestFields);
type OutputRequest = Partial<z.infer<typeof outputRequest>>;

/** Names a parameter as the client sent it: `size`, or `input.size` inside a job request. */
export type ParamName = (name: string) => string;
export const paramNames =
  (prefix: string): ParamName =>
  (name) =>
    prefix ? `${prefix}.${name}` : name;

/**
 * `size` or `aspect_ratio` → a size the model supports, or "auto"; with neither, the one nearest `output_size`.
 * With none of them: `fallback` (an endpoint's own default, as OpenAI's multipart edits have 1024x1024) where the
 * model makes that size, else "auto".
 */
export function requestedSize(
  model: ModelSpec,
  req: OutputRequest,
  paramPath: ParamName,
  fallback?: string | undefined,
): string {
  if (req.size !== undefined && req.aspect_ratio !== undefined) {
    throw new InvalidInput("Give either 'size' or 'aspect_ratio', not both.", {
      param: paramPath("aspect_ratio"),
    });
  }
  if (req.aspect_ratio !== undefined) return sizeForAspectRatio(model, req.aspect_ratio);
  if (req.size === undefined && req.output_size !== undefined) {
    if (!sizeProblem(model, req.output_size) && model.sizes.kind !== "aspect") return req.output_size;
    const d = nearestSize(model, parseSize(req.output_size) as Dimensions);
    return `${d.width}x${d.height}`;
  }
  const size = req.size ?? (fallback && !sizeProblem(model, fallback) ? fallback : "auto");
  const problem = sizeProblem(model, size);
  if (problem) throw new InvalidInput(`Invalid size '${size}': ${problem}.`, { param: paramPath("size") });
  // A model that takes an aspect ratio makes its own size for it: the job records the size it will have.
  if (model.sizes.kind === "aspect" && size !== "auto") {
    const d = nearestSize(model, parseSize(size) as Dimensions);
    return `${d.width}x${d.height}`;
  }
  return size;
}

/** Checks the shared fields against the model and fills in defaults. */
export function outputOptions(model: ModelSpec, req: OutputRequest, size: string, paramPath: ParamName) {
  if (req.quality !== undefined && !model.qualities.includes(req.quality)) {
    throw new InvalidInput(
      `${model.id} does not support quality '${req.quality}'. Use one of: ${model.qualities.join(", ")}.`,
      { param: paramPath("quality") },
    );
  }
  const outputFormat = req.output_format ?? "png";
  if (req.background === "transparent") {
    if (!model.transparentBackground) {
      throw new InvalidInput(`${model.id} cannot make transparent backgrounds.`, {
        param: paramPath("background"),
      });
    }
    if (outputFormat === "jpeg") {
      throw new InvalidInput(
        "A transparent background needs output_format 'png' or 'webp'; JPEG has no alpha.",
        { param: paramPath("background") },
      );
    }
  }
  return {
    model: model.id,
    n: req.n ?? 1,
    size,
    output_format: outputFormat,
    response_format: req.response_format ?? "url",
    ...(req.output_size !== undefined && { output_size: req.output_size }),
    ...(req.quality !== undefined && { quality: req.quality }),
    ...(req.output_compression !== undefined && { output_compression: req.output_compression }),
    ...(req.background !== undefined && { background: req.background }),
    ...(req.user !== undefined && { user: req.user }),
  };
}

/** Splits `n` into provider calls of at most `perCall` images each. */
export function splitCount(n: number, perCall: number): number[] {
  const calls: number[] = [];
  for (let left = n; left > 0; left -= perCall) calls.push(Math.min(perCall, left));
  return calls;
}

/** What a stand-in's job says about itself. */
export function standInNotice(model: ModelSpec): string {
  return `Made offline by the placeholder provider standing in for ${model.id}. Configure the ${model.provider} provider for real images.`;
}
