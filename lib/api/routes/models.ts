import type { ModelSpec, Price } from "../../catalog/catalog.ts";
import { priceOf } from "../../catalog/prices.ts";
import type { ResolvedModel } from "../../jobs/registry.ts";
import type { ModelResource, PricingResource, Resource, SizeRuleResource } from "../reference/responses.ts";
import type { Route } from "../router.ts";
import type { RouteDeps } from "./deps.ts";

export const modelRoutes = (deps: RouteDeps): Route[] => [
  {
    method: "GET",
    path: "/v1/models",
    doc: {
      operationId: "listModels",
      summary: "List the models served here",
      description:
        "OpenAI's models.list, with what each model can do: operations, sizes, qualities, formats, edit limits, prices. stand_in marks models the offline placeholder serves. Models that were shut down are left out.",
      tag: "Models",
      responses: { 200: { description: "The models.", schema: "ModelList" } },
    },
    handle: async () => ({
      status: 200,
      body: {
        object: "list",
        data: deps.registry.list().map((m) => modelResource(m, deps.registry.defaultModel)),
      } satisfies Resource<"ModelList">,
    }),
  },
  {
    method: "GET",
    path: "/v1/models/{model}",
    doc: {
      operationId: "retrieveModel",
      summary: "Get a model",
      description:
        "OpenAI's models.retrieve: the model as the list shows it. A model the list leaves out is a 404 with code model_not_found, whose message says why: unknown, shut down (naming its replacement), or its provider is not configured here.",
      tag: "Models",
      params: { model: "The model's id, as GET /v1/models gives it (URL-encoded)." },
      responses: { 200: { description: "The model.", schema: "Model" } },
    },
    handle: async (ctx) => ({
      status: 200,
      body: modelResource(deps.registry.listed(ctx.params.model ?? ""), deps.registry.defaultModel),
    }),
  },
];

/** OpenAI's Model object, with what the model can do here (lib/catalog/catalog.ts) and its price. */
function modelResource({ model, provider, standIn }: ResolvedModel, defaultModel: string): ModelResource {
  const price = priceOf(model);
  return {
    id: model.id,
    object: "model",
    created: 0,
    owned_by: model.provider,
    served_by: provider.name,
    stand_in: standIn ? true : undefined,
    default: model.id === defaultModel,
    operations: [...model.operations],
    sizes: sizeRuleView(model.sizes),
    qualities: [...model.qualities],
    output_formats: [...model.outputFormats],
    transparent_background: model.transparentBackground,
    max_images_per_call: model.maxImagesPerCall,
    edit: model.edit && {
      max_input_images: model.edit.maxImages,
      mask: model.edit.mask,
      input_fidelity: [...model.edit.inputFidelity],
      variations: model.edit.variations === "native" ? "native" : "made_with_edit",
      input_max_edge: model.edit.input.maxEdge,
      input_square: model.edit.input.square,
    },
    shutdown_on: model.shutdownOn,
    alias_of: model.aliasOf,
    pricing: price && pricingView(price),
  };
}

function sizeRuleView(rule: ModelSpec["sizes"]): SizeRuleResource {
  switch (rule.kind) {
    case "list":
      return { kind: "list", values: [...rule.values] };
    case "aspect":
      return { kind: "aspect", ratios: rule.ratios.map((r) => ({ ratio: r.ratio, size: r.size })) };
    case "range":
      return {
        kind: "range",
        multipleOf: rule.multipleOf,
        minPixels: rule.minPixels,
        maxPixels: rule.maxPixels,
        maxEdge: rule.maxEdge,
        maxAspect: rule.maxAspect,
      };
  }
}

/** The price table's entry as the listing shows it: estimates in USD (lib/catalog/prices.ts). */
function pricingView(price: Price): PricingResource {
  return {
    per_image_usd: { ...price.perImage },
    per_image_at_pixels: price.referencePixels,
    per_million_tokens_usd: price.tokens && { input: price.tokens.input, output: price.tokens.output },
  };
}
