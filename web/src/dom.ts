import { ApiError } from "./api.ts";

type Attrs = Record<string, string | number | boolean | undefined>;
type Child = Node | string | null | undefined | false;

/** A small element builder: attributes (booleans toggle), `on*` handlers are not taken; children appended. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) if (child) el.append(child);
  return el;
}

export function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from index.html`);
  return el as T;
}

/** Fills a select with options, keeping the current choice when it is still offered. */
export function setOptions(
  select: HTMLSelectElement,
  groups: { label?: string; options: { value: string; text: string }[] }[],
): void {
  const previous = select.value;
  select.replaceChildren(
    ...groups.flatMap((g) => {
      const opts = g.options.map((o) => h("option", { value: o.value }, o.text));
      return g.label ? h("optgroup", { label: g.label }, ...opts) : opts;
    }),
  );
  if ([...select.options].some((o) => o.value === previous)) select.value = previous;
}

/** Shows an error in a form's alert box, and marks the field the API named (`input.size` → `size`). */
export function showError(form: HTMLFormElement | HTMLElement, err: unknown): void {
  const box = form.querySelector<HTMLElement>("[role=alert]");
  clearError(form);
  if (!box) return;
  const message =
    err instanceof ApiError
      ? `${err.message}${err.status ? ` (HTTP ${err.status}${err.code ? `, ${err.code}` : ""})` : ""}`
      : err instanceof Error
        ? err.message
        : String(err);
  box.textContent = message;
  box.hidden = false;
  if (err instanceof ApiError && err.param && form instanceof HTMLFormElement) {
    const name = err.param.replace(/^input\./, "").replace(/\[\d+\]$/, "");
    const field = form.elements.namedItem(name === "image" || name === "images" ? "file" : name);
    if (field instanceof HTMLElement) field.setAttribute("aria-invalid", "true");
  }
}

export function clearError(form: HTMLElement): void {
  const box = form.querySelector<HTMLElement>("[role=alert]");
  if (box) {
    box.hidden = true;
    box.textContent = "";
  }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}
