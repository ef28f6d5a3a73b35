import type { ImageInput, Job, Model } from "./api.ts";
import { byId, clearError, showError } from "./dom.ts";
import { type EditImage, submitAndWatch } from "./jobs.ts";
import { MaskPainter } from "./mask.ts";
import { modelOptions } from "./options.ts";

// Edit, outpaint and variations of one image: uploaded (sent as a data URL) or an earlier job's output (sent as
// {"job_id", "index"}, read by the service from its own bucket).

type Mode = "edit" | "outpaint" | "variation";

const submitLabels: Record<Mode, string> = {
  edit: "Edit image",
  outpaint: "Outpaint",
  variation: "Make variations",
};

export function editPanel(onEdit: EditImage) {
  const form = byId<HTMLFormElement>("edit-form");
  const results = byId<HTMLElement>("edit-results");
  const file = byId<HTMLInputElement>("edit-file");
  const sourceNote = byId<HTMLElement>("edit-source");
  const stage = byId<HTMLElement>("edit-stage");
  const image = byId<HTMLImageElement>("edit-image");
  const model = byId<HTMLSelectElement>("edit-model");
  const border = byId<HTMLInputElement>("edit-border");
  const borderValue = byId<HTMLOutputElement>("edit-border-value");
  const prompt = byId<HTMLTextAreaElement>("edit-prompt");
  const submit = byId<HTMLButtonElement>("edit-submit");
  const painter = new MaskPainter(byId<HTMLCanvasElement>("edit-mask"));
  let models: Model[] = [];
  let source: { input: ImageInput; objectUrl?: string } | undefined;

  const mode = (): Mode => (new FormData(form).get("mode") as Mode | null) ?? "edit";

  const applyMode = () => {
    const m = mode();
    byId("mask-tools").hidden = m !== "edit";
    byId("border-field").hidden = m !== "outpaint";
    byId("edit-prompt-field").hidden = m === "variation";
    prompt.placeholder =
      m === "outpaint"
        ? "Optional: what the new border should show"
        : "Replace the painted area with a red balloon";
    submit.textContent = submitLabels[m];
    modelOptions(model, models, m);
  };
  for (const radio of form.querySelectorAll<HTMLInputElement>("input[name=mode]"))
    radio.addEventListener("change", applyMode);
  for (const radio of form.querySelectorAll<HTMLInputElement>("input[name=tool]"))
    radio.addEventListener("change", () => {
      painter.tool = radio.value === "eraser" && radio.checked ? "eraser" : "brush";
    });
  byId<HTMLInputElement>("brush-size").addEventListener("input", (e) => {
    painter.size = Number((e.target as HTMLInputElement).value);
  });
  byId("mask-clear").addEventListener("click", () => painter.clear());
  border.addEventListener("input", () => {
    borderValue.textContent = `${border.value}%`;
  });

  image.addEventListener("load", () => {
    painter.reset(image.naturalWidth, image.naturalHeight);
    stage.hidden = false;
  });
  // Not an image the browser can show: still sent, so the service says what is wrong with it.
  image.addEventListener("error", () => {
    stage.hidden = true;
  });

  const show = (url: string, note: string) => {
    stage.hidden = true;
    painter.reset(0, 0);
    // The same URL again would not fire `load`.
    if (image.src === url) image.removeAttribute("src");
    image.src = url;
    sourceNote.textContent = note;
  };

  file.addEventListener("change", () => {
    const chosen = file.files?.[0];
    if (!chosen) return;
    clearError(form);
    if (source?.objectUrl) URL.revokeObjectURL(source.objectUrl);
    const objectUrl = URL.createObjectURL(chosen);
    const reader = new FileReader();
    reader.addEventListener("load", () => {
      source = { input: String(reader.result), objectUrl };
      show(objectUrl, `Uploaded: ${chosen.name} (${Math.round(chosen.size / 1024)} KiB)`);
    });
    reader.addEventListener("error", () => showError(form, new Error(`Could not read ${chosen.name}.`)));
    reader.readAsDataURL(chosen);
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearError(form);
    const m = mode();
    if (!source) {
      showError(form, new Error("Choose an image first: upload one, or press “Edit” under a result."));
      file.focus();
      return;
    }
    const text = prompt.value.trim();
    if (m === "edit" && !text) {
      showError(form, new Error("Write a prompt: what should the painted area become?"));
      prompt.focus();
      return;
    }
    const n = Number(byId<HTMLInputElement>("edit-n").value || 1);
    const input: Record<string, unknown> = { image: source.input, n };
    if (model.value) input.model = model.value;
    if (m === "edit") {
      input.prompt = text;
      if (painter.canvas.width > 0 && !painter.isEmpty()) input.mask = painter.toDataUrl();
    } else if (m === "outpaint") {
      if (text) input.prompt = text;
      input.border_percentage = Number(border.value) / 100;
    }
    submitAndWatch(results, m, input, onEdit).catch((err: unknown) => showError(form, err));
  });

  return {
    setModels(list: Model[]) {
      models = list;
      applyMode();
    },
    /** Works on an earlier job's output. */
    load(job: Job, index: number) {
      const img = job.output?.images[index];
      if (!img) return;
      clearError(form);
      if (source?.objectUrl) URL.revokeObjectURL(source.objectUrl);
      source = { input: { job_id: job.id, index } };
      file.value = "";
      show(img.url, `Output ${index + 1} of job ${job.id} (${img.width}×${img.height})`);
    },
  };
}
