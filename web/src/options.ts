import type { Model, SizeRule } from "./api.ts";
import { setOptions } from "./dom.ts";

// Form choices from what GET /v1/models says a model can do: its sizes, qualities, formats and backgrounds.

const aspectRatios = ["1:1", "3:2", "2:3", "16:9", "9:16", "4:5", "5:4"];

/** Common sizes, offered for a model that takes any size within bounds when its rule allows them. */
const commonSizes = [
  "256x256",
  "512x512",
  "1024x1024",
  "1536x1024",
  "1024x1536",
  "1280x720",
  "720x1280",
  "2048x2048",
  "2048x1152",
  "1152x2048",
  "3840x2160",
  "2160x3840",
];

/** Whether a range rule takes `size`: the same checks as the API (multiples, edge, pixels, aspect). */
function inRange(rule: Extract<SizeRule, { kind: "range" }>, size: string): boolean {
  const [w = 0, h = 0] = size.split("x").map(Number);
  const pixels = w * h;
  return (
    w % rule.multipleOf === 0 &&
    h % rule.multipleOf === 0 &&
    Math.max(w, h) <= rule.maxEdge &&
    pixels >= rule.minPixels &&
    pixels <= rule.maxPixels &&
    Math.max(w, h) / Math.min(w, h) <= rule.maxAspect
  );
}

/** The sizes to offer for a model: its menu, its aspect ratios' sizes, or the common sizes its bounds take. */
export function sizesFor(rule: SizeRule): string[] {
  if (rule.kind === "list") return rule.values;
  if (rule.kind === "aspect") return rule.ratios.map((r) => r.size);
  return commonSizes.filter((s) => inRange(rule, s));
}

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
  const sizes = model ? sizesFor(model.sizes) : [];
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
