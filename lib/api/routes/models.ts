import { priceOf } from "../../providers/prices.ts";
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
        "OpenAI's models.list, with what each model can do: operations, sizes, qualities, formats, edit limits. stand_in marks models the offline placeholder serves.",
      tag: "Models",
      responses: { 200: { description: "The models.", schema: "ModelList" } },
    },
    handle: async () => ({
      status: 200,
      body: {
        object: "list",
        data: deps.registry.list().map(({ model, provider, standIn }) => ({
          id: model.id,
          object: "model",
          created: 0,
          owned_by: model.provider,
          served_by: provider.name,
          ...(standIn && { stand_in: true }),
          default: model.id === deps.registry.defaultModel,
          operations: model.operations,
          sizes: model.sizes,
          qualities: model.qualities,
          output_formats: model.outputFormats,
          transparent_background: model.transparentBackground,
          max_images_per_call: model.maxImagesPerCall,
          ...(model.edit && {
            edit: {
              max_input_images: model.edit.maxImages,
              mask: model.edit.mask,
              input_fidelity: model.edit.inputFidelity,
              variations: model.edit.variations === "native" ? "native" : "made_with_edit",
              input_max_edge: model.edit.input.maxEdge,
              input_square: model.edit.input.square,
            },
          }),
          ...(model.shutdownOn !== undefined && { shutdown_on: model.shutdownOn }),
          ...(priceOf(model) && { pricing: pricingView(priceOf(model)) }),
        })),
      },
    }),
  },
];

/** The price table's entry as the listing shows it: estimates in USD (lib/providers/prices.ts). */
function pricingView(price: ReturnType<typeof priceOf>) {
  if (!price) return undefined;
  return {
    per_image_usd: price.perImage,
    ...(price.referencePixels !== undefined && { per_image_at_pixels: price.referencePixels }),
    ...(price.tokens && {
      per_million_tokens_usd: { input: price.tokens.input, output: price.tokens.output },
    }),
  };
}
