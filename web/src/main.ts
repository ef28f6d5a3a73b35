import "./style.css";
import { ApiError, api, forgetKey, type Job, savedKey, saveKey } from "./api.ts";
import { byId } from "./dom.ts";
import { editPanel } from "./edit.ts";
import { generatePanel } from "./generate.ts";
import { jobList } from "./jobs.ts";

// The playground: the API key, three tabs (Generate, Edit, Jobs), and the models that fill their forms.

type Tab = "generate" | "edit" | "jobs";
const tabNames: Tab[] = ["generate", "edit", "jobs"];

function selectTab(name: Tab, focus = false): void {
  for (const t of tabNames) {
    const tab = byId<HTMLButtonElement>(`tab-${t}`);
    const selected = t === name;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    byId(`panel-${t}`).hidden = !selected;
    if (selected && focus) tab.focus();
  }
  if (name === "jobs") void jobs.reload();
}

// Tabs: click, or arrow keys / Home / End between them (WAI-ARIA tabs pattern).
for (const [i, t] of tabNames.entries()) {
  const tab = byId<HTMLButtonElement>(`tab-${t}`);
  tab.addEventListener("click", () => selectTab(t));
  tab.addEventListener("keydown", (e) => {
    const next =
      e.key === "ArrowRight"
        ? i + 1
        : e.key === "ArrowLeft"
          ? i - 1
          : e.key === "Home"
            ? 0
            : e.key === "End"
              ? -1
              : undefined;
    if (next === undefined) return;
    e.preventDefault();
    selectTab(tabNames.at(next % tabNames.length) as Tab, true);
  });
}

const onEdit = (job: Job, index: number) => {
  edit.load(job, index);
  selectTab("edit");
  // The top of the Edit form, so the image to paint on is in view below it.
  document.querySelector<HTMLInputElement>("#edit-form input[name=mode]:checked")?.focus();
};
const generate = generatePanel(onEdit);
const edit = editPanel(onEdit);
const jobs = jobList(
  {
    list: byId("jobs-list"),
    more: byId("jobs-more"),
    refresh: byId("jobs-refresh"),
    status: byId("jobs-status"),
    error: byId("jobs-error"),
    filter: byId("jobs-filter"),
  },
  onEdit,
);

const keyForm = byId<HTMLFormElement>("key-form");
const keyInput = byId<HTMLInputElement>("key-input");
const keyStatus = byId<HTMLElement>("key-status");
const forget = byId<HTMLButtonElement>("key-forget");

/** Checks the key by listing models, which also fills the forms. */
async function connect(): Promise<void> {
  if (!savedKey()) {
    keyStatus.textContent =
      "Paste the API key that `npm start` printed. It stays in this browser (localStorage).";
    document.body.dataset.connected = "false";
    return;
  }
  keyStatus.textContent = "Checking the key…";
  try {
    const models = await api.models();
    generate.setModels(models);
    edit.setModels(models);
    keyStatus.textContent = "Key saved in this browser. Ready.";
    document.body.dataset.connected = "true";
    if (!byId("panel-jobs").hidden) void jobs.reload();
  } catch (err) {
    keyStatus.textContent =
      err instanceof ApiError && err.status === 401
        ? "That key was refused (401). Check it and save again."
        : `Could not load models: ${err instanceof Error ? err.message : String(err)}`;
    document.body.dataset.connected = "false";
  }
}

keyForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const key = keyInput.value.trim();
  if (!key) return;
  saveKey(key);
  keyInput.value = "";
  keyInput.placeholder = "Key saved";
  forget.hidden = false;
  void connect();
});
forget.addEventListener("click", () => {
  forgetKey();
  forget.hidden = true;
  keyInput.placeholder = "sk-img-…";
  keyInput.focus();
  void connect();
});

if (savedKey()) {
  forget.hidden = false;
  keyInput.placeholder = "Key saved";
}
void connect();
