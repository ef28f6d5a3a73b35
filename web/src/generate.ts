import type { Model } from "./api.ts";
import { byId, clearError, showError } from "./dom.ts";
import { type EditImage, submitAndWatch } from "./jobs.ts";
import {
  backgroundOptions,
  formatOptions,
  modelOptions,
  qualityOptions,
  sizeFields,
  sizeOptions,
} from "./options.ts";

// Generate: a prompt and the output options, submitted as a generate job (POST /v1/jobs) and shown live.

export function generatePanel(onEdit: EditImage) {
  const form = byId<HTMLFormElement>("generate-form");
  const results = byId<HTMLElement>("generate-results");
  const model = byId<HTMLSelectElement>("gen-model");
  const size = byId<HTMLSelectElement>("gen-size");
  const quality = byId<HTMLSelectElement>("gen-quality");
  const background = byId<HTMLSelectElement>("gen-background");
  const format = byId<HTMLSelectElement>("gen-format");
  let models: Model[] = [];

  const refresh = () => {
    const m = models.find((x) => x.id === model.value);
    sizeOptions(size, m);
    qualityOptions(quality, m);
    backgroundOptions(background, m);
    formatOptions(format, m);
  };
  model.addEventListener("change", refresh);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearError(form);
    const data = new FormData(form);
    const prompt = String(data.get("prompt") ?? "").trim();
    if (!prompt) {
      showError(form, new Error("Write a prompt: what should the image show?"));
      byId("gen-prompt").focus();
      return;
    }
    const input: Record<string, unknown> = {
      prompt,
      n: Number(data.get("n") || 1),
      output_format: String(data.get("output_format") || "png"),
      ...sizeFields(String(data.get("size") ?? "")),
    };
    if (model.value) input.model = model.value;
    if (quality.value) input.quality = quality.value;
    if (background.value) input.background = background.value;
    // Previews as the image forms, shown on the job's card (web/src/events.ts).
    const previews = Number(data.get("partial_images") || 0);
    if (previews > 0) input.partial_images = previews;
    // Not awaited: the form stays usable, and every submitted job shows its own live card.
    submitAndWatch(results, "generate", input, onEdit).catch((err: unknown) => showError(form, err));
  });

  return {
    setModels(list: Model[]) {
      models = list;
      modelOptions(model, models, "generate");
      refresh();
    },
  };
}
