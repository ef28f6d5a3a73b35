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
        })),
      },
    }),
  },
];
