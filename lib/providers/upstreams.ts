import { anyEditInput, anySize, type EditSpec, type ModelSpec, type Operation } from "../catalog/catalog.ts";
import type { UpstreamConfig } from "../config.ts";

// OpenAI-compatible upstreams' models, from configuration (OPENAI_COMPATIBLE_UPSTREAMS): capabilities declared
// as data, so adding a model is a configuration change. Each upstream is a provider named after it.

const needsEdit: readonly Operation[] = ["edit", "variation", "outpaint", "remove_background"];

export function upstreamModels(upstreams: readonly UpstreamConfig[]): ModelSpec[] {
  return upstreams.flatMap((u) =>
    u.models.map((m): ModelSpec => {
      const edit: EditSpec | undefined = m.operations.some((o) => needsEdit.includes(o))
        ? {
            maxImages: m.edit?.max_images ?? 1,
            mask: m.edit?.mask ?? true,
            inputFidelity: [],
            input: anyEditInput,
            variations: "edit",
          }
        : undefined;
      return {
        id: m.id,
        provider: u.name,
        ...(m.upstream_id !== undefined && { upstreamId: m.upstream_id }),
        operations: m.operations,
        ...(edit && { edit }),
        sizes: m.sizes ? { kind: "list", values: m.sizes } : anySize,
        defaultSize: m.default_size,
        maxImagesPerCall: m.max_images_per_call,
        qualities: m.qualities,
        styles: [],
        outputFormats: m.output_formats,
        transparentBackground: m.transparent_background,
        slowestCallSeconds: m.slowest_call_seconds,
        ...(m.price_per_image_usd !== undefined && { price: { perImage: { "*": m.price_per_image_usd } } }),
      };
    }),
  );
}
