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

/** The panel's elements, looked up once. */
function editElements() {
  return {
    form: byId<HTMLFormElement>("edit-form"),
    results: byId<HTMLElement>("edit-results"),
    file: byId<HTMLInputElement>("edit-file"),
    sourceNote: byId<HTMLElement>("edit-source"),
    stage: byId<HTMLElement>("edit-stage"),
    image: byId<HTMLImageElement>("edit-image"),
    model: byId<HTMLSelectElement>("edit-model"),
    border: byId<HTMLInputElement>("edit-border"),
    borderValue: byId<HTMLOutputElement>("edit-border-value"),
    prompt: byId<HTMLTextAreaElement>("edit-prompt"),
    submit: byId<HTMLButtonElement>("edit-submit"),
    n: byId<HTMLInputElement>("edit-n"),
  };
}
type EditElements = ReturnType<typeof editElements>;

/** Brush or eraser, brush size, clear; and the outpaint border's readout. */
function wireTools(el: EditElements, painter: MaskPainter) {
  for (const radio of el.form.querySelectorAll<HTMLInputElement>("input[name=tool]"))
    radio.addEventListener("change", () => {
      painter.tool = radio.value === "eraser" && radio.checked ? "eraser" : "brush";
    });
  byId<HTMLInputElement>("brush-size").addEventListener("input", (e) => {
    painter.size = Number((e.target as HTMLInputElement).value);
  });
  byId("mask-clear").addEventListener("click", () => painter.clear());
  el.border.addEventListener("input", () => {
    el.borderValue.textContent = `${el.border.value}%`;
  });
}

interface Source {
  input: ImageInput;
  objectUrl?: string;
}

/** The image being worked on: an upload from the file input, or an earlier job's output given to `load`. */
function sourcePicker(el: EditElements, painter: MaskPainter) {
  let source: Source | undefined;

  el.image.addEventListener("load", () => {
    painter.reset(el.image.naturalWidth, el.image.naturalHeight);
    el.stage.hidden = false;
  });
  // Not an image the browser can show: still sent, so the service says what is wrong with it.
  el.image.addEventListener("error", () => {
    el.stage.hidden = true;
  });

  const choose = (next: Source, url: string, note: string) => {
    if (source?.objectUrl) URL.revokeObjectURL(source.objectUrl);
    source = next;
    el.stage.hidden = true;
    painter.reset(0, 0);
    // The same URL again would not fire `load`.
    if (el.image.src === url) el.image.removeAttribute("src");
    el.image.src = url;
    el.sourceNote.textContent = note;
  };

  el.file.addEventListener("change", () => {
    const chosen = el.file.files?.[0];
    if (!chosen) return;
    clearError(el.form);
    const objectUrl = URL.createObjectURL(chosen);
    const reader = new FileReader();
    reader.addEventListener("load", () => {
      choose(
        { input: String(reader.result), objectUrl },
        objectUrl,
        `Uploaded: ${chosen.name} (${Math.round(chosen.size / 1024)} KiB)`,
      );
    });
    reader.addEventListener("error", () => {
      URL.revokeObjectURL(objectUrl);
      showError(el.form, new Error(`Could not read ${chosen.name}.`));
    });
    reader.readAsDataURL(chosen);
  });

  return {
    current: () => source,
    fromJob(job: Job, index: number) {
      const img = job.output?.images[index];
      if (!img) return;
      clearError(el.form);
      el.file.value = "";
      choose(
        { input: { job_id: job.id, index } },
        img.url,
        `Output ${index + 1} of job ${job.id} (${img.width}×${img.height})`,
      );
    },
  };
}

/** What was left out of the form, with the field to fix. */
class MissingInput extends Error {
  readonly field: HTMLElement;
  constructor(message: string, field: HTMLElement) {
    super(message);
    this.field = field;
  }
}

/** The job's input for `mode`, from the form, the painted mask and the chosen image. */
function editInput(mode: Mode, el: EditElements, painter: MaskPainter, source: Source | undefined) {
  if (!source)
    throw new MissingInput("Choose an image first: upload one, or press “Edit” under a result.", el.file);
  const text = el.prompt.value.trim();
  if (mode === "edit" && !text)
    throw new MissingInput("Write a prompt: what should the painted area become?", el.prompt);
  const input: Record<string, unknown> = { image: source.input, n: Number(el.n.value || 1) };
  if (el.model.value) input.model = el.model.value;
  if (mode === "edit") {
    input.prompt = text;
    if (painter.canvas.width > 0 && !painter.isEmpty()) input.mask = painter.toDataUrl();
  } else if (mode === "outpaint") {
    if (text) input.prompt = text;
    input.border_percentage = Number(el.border.value) / 100;
  }
  return input;
}

export function editPanel(onEdit: EditImage) {
  const el = editElements();
  const painter = new MaskPainter(byId<HTMLCanvasElement>("edit-mask"));
  const picker = sourcePicker(el, painter);
  let models: Model[] = [];

  const mode = (): Mode => (new FormData(el.form).get("mode") as Mode | null) ?? "edit";
  const applyMode = () => {
    const m = mode();
    byId("mask-tools").hidden = m !== "edit";
    byId("border-field").hidden = m !== "outpaint";
    byId("edit-prompt-field").hidden = m === "variation";
    el.prompt.placeholder =
      m === "outpaint"
        ? "Optional: what the new border should show"
        : "Replace the painted area with a red balloon";
    el.submit.textContent = submitLabels[m];
    modelOptions(el.model, models, m);
  };
  for (const radio of el.form.querySelectorAll<HTMLInputElement>("input[name=mode]"))
    radio.addEventListener("change", applyMode);
  wireTools(el, painter);

  el.form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearError(el.form);
    const m = mode();
    let input: Record<string, unknown>;
    try {
      input = editInput(m, el, painter, picker.current());
    } catch (err) {
      showError(el.form, err);
      if (err instanceof MissingInput) err.field.focus();
      return;
    }
    submitAndWatch(el.results, m, input, onEdit).catch((err: unknown) => showError(el.form, err));
  });

  return {
    setModels(list: Model[]) {
      models = list;
      applyMode();
    },
    /** Works on an earlier job's output. */
    load: (job: Job, index: number) => picker.fromJob(job, index),
  };
}
