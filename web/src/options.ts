import type { Model } from "./api.ts";
import { setOptions } from "./dom.ts";

// Form choices from what GET /v1/models says a model can do: its sizes, qualities, formats and backgrounds.

const aspectRatios = ["1:1", "3:2", "2:3", "16:9", "9:16", "4:5", "5:4"];
const rangeSizes = ["1024x1024", "1536x1024", "1024x1536", "512x512"];

export function modelOptions(select: HTMLSelectElement, models: Model[], operation: string): void {
  const usable = models.filter((m) => m.operations.includes(operation));
  setOptions(select, [
    {
      options: usable.map((m) => ({
        value: m.id,
        text: `${m.id}${m.default ? " (default)" : ""}${m.stand_in ? " · placeholder" : ""}`,
      })),
    },
  ]);
  if (!usable.some((m) => m.id === select.value)) select.value = usable.find((m) => m.default)?.id ?? "";
}

/** One select for `size` or `aspect_ratio`: values are `size:1024x1024` or `aspect:16:9`. */
export function sizeOptions(select: HTMLSelectElement, model: Model | undefined): void {
  const sizes = !model ? [] : model.sizes.kind === "list" ? model.sizes.values : rangeSizes;
  setOptions(select, [
    { options: [{ value: "", text: "auto" }] },
    { label: "Size", options: sizes.map((s) => ({ value: `size:${s}`, text: s.replace("x", " × ") })) },
    { label: "Aspect ratio", options: aspectRatios.map((a) => ({ value: `aspect:${a}`, text: a })) },
  ]);
}

export function qualityOptions(select: HTMLSelectElement, model: Model | undefined): void {
  setOptions(select, [{ options: [{ value: "", text: "default" }, ...(model?.qualities ?? []).map(opt)] }]);
}

export function formatOptions(select: HTMLSelectElement, model: Model | undefined): void {
  setOptions(select, [{ options: (model?.output_formats ?? ["png"]).map(opt) }]);
}

export function backgroundOptions(select: HTMLSelectElement, model: Model | undefined): void {
  const values = model?.transparent_background ? ["auto", "opaque", "transparent"] : ["auto", "opaque"];
  setOptions(select, [{ options: [{ value: "", text: "default" }, ...values.map(opt)] }]);
}

const opt = (v: string) => ({ value: v, text: v });

/** The chosen size as request fields. */
export function sizeFields(value: string): Record<string, string> {
  if (value.startsWith("size:")) return { size: value.slice(5) };
  if (value.startsWith("aspect:")) return { aspect_ratio: value.slice(7) };
  return {};
}
