import { ApiError, api, isTerminal, type Job, type JobStatus } from "./api.ts";
import { h } from "./dom.ts";
import { followPreviews, forgetPreviews, previewFigures } from "./events.ts";

// Job cards (status, timings, cost, thumbnails, downloads, the error on failure, Cancel while unfinished), live
// status by polling GET /v1/jobs/{id}, and the paged job list, filtered by status.

export type EditImage = (job: Job, index: number) => void;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const time = (iso: string) => new Date(iso).toLocaleString();

function timings(job: Job, now: number): string {
  const created = Date.parse(job.created_at);
  const started = job.started_at ? Date.parse(job.started_at) : undefined;
  const finished = job.finished_at ? Date.parse(job.finished_at) : undefined;
  if (job.status === "queued") return `queued for ${seconds(now - created)}`;
  if (job.status === "running") return `running for ${seconds(now - (started ?? created))}`;
  const parts: string[] = [];
  if (finished !== undefined) parts.push(`took ${seconds(finished - created)}`);
  if (started !== undefined && finished !== undefined) parts.push(`${seconds(finished - started)} running`);
  return parts.join(", ");
}

/**
 * What each watched job's cards show, by job id: a card may be re-rendered at any poll, and the same job can
 * have a card under Results and under Jobs, so a cancel updates them all through here.
 */
const watchers = new Map<string, Set<(job: Job) => void>>();
/** Why a cancel did not happen (the job finished meanwhile, the request failed), shown on the job's cards. */
const cancelNotes = new Map<string, string>();

/** One job, as a card. `now` makes the running timer tick without refetching. */
export function jobCard(job: Job, onEdit: EditImage, now = Date.now()): HTMLElement {
  const prompt = job.input.prompt;
  const images = job.output?.images ?? [];
  const cost =
    typeof job.cost_usd === "number" ? h("span", { class: "cost" }, `$${job.cost_usd.toFixed(4)}`) : null;
  return h(
    "article",
    { class: "card", "data-job-id": job.id, "data-status": job.status, "aria-busy": !isTerminal(job.status) },
    h(
      "header",
      {},
      h("span", { class: `badge ${job.status}` }, job.status),
      h("span", { class: "op" }, `${job.operation} · ${job.model}`),
    ),
    prompt ? h("p", { class: "prompt" }, prompt) : null,
    images.length > 0
      ? h(
          "div",
          { class: "thumbs" },
          ...images.map((img) =>
            h(
              "figure",
              {},
              h("img", {
                src: img.url,
                alt: `Output ${img.index + 1} of job ${job.id}${prompt ? `: ${prompt}` : ""}`,
                width: img.width,
                height: img.height,
                loading: "lazy",
                "data-index": img.index,
              }),
              h(
                "figcaption",
                {},
                h(
                  "a",
                  {
                    href: img.url,
                    download: `${job.id}-${img.index}.${img.format}`,
                    target: "_blank",
                    rel: "noopener",
                  },
                  `Download ${img.width}×${img.height} ${img.format}`,
                ),
                editButton(job, img.index, onEdit),
              ),
            ),
          ),
        )
      : isTerminal(job.status)
        ? null
        : previewFigures(job.id, prompt),
    job.error
      ? h("p", { class: "job-error" }, h("strong", {}, `${job.error.code}: `), job.error.message)
      : null,
    job.notice ? h("p", { class: "notice" }, job.notice) : null,
    cancelNotes.has(job.id)
      ? h("p", { class: "cancel-note", role: "status" }, cancelNotes.get(job.id))
      : null,
    h(
      "footer",
      {},
      h("span", { class: "status-text" }, timings(job, now)),
      isTerminal(job.status) ? null : cancelButton(job, onEdit),
      cost,
      h("time", { datetime: job.created_at }, time(job.created_at)),
      h("code", { class: "job-id" }, job.id),
    ),
  );
}

function editButton(job: Job, index: number, onEdit: EditImage): HTMLButtonElement {
  const button = h(
    "button",
    { type: "button", class: "secondary small", "aria-label": `Edit output ${index + 1} of job ${job.id}` },
    "Edit",
  );
  button.addEventListener("click", () => onEdit(job, index));
  return button;
}

function cancelButton(job: Job, onEdit: EditImage): HTMLButtonElement {
  const button = h(
    "button",
    { type: "button", class: "secondary small cancel", "aria-label": `Cancel job ${job.id}` },
    "Cancel",
  );
  button.addEventListener("click", () => void cancelJob(job, button, onEdit));
  return button;
}

/**
 * Shows `job` on every card of it: through the watchers while it is watched, else (it ended while the cancel
 * was under way, and its watchers stopped) by replacing the cards on the page.
 */
function publish(job: Job, onEdit: EditImage): void {
  const views = watchers.get(job.id);
  if (views?.size) {
    for (const view of views) view(job);
    return;
  }
  for (const card of document.querySelectorAll(`.card[data-job-id="${CSS.escape(job.id)}"]`)) {
    card.replaceWith(jobCard(job, onEdit));
  }
}

/** POST /v1/jobs/{id}/cancel. A 409 means the job ended first: say so, and show how it ended. */
async function cancelJob(job: Job, button: HTMLButtonElement, onEdit: EditImage): Promise<void> {
  button.disabled = true;
  button.textContent = "Canceling…";
  cancelNotes.delete(job.id);
  try {
    publish(await api.cancel(job.id), onEdit);
  } catch (err) {
    if (err instanceof ApiError && err.status === 409) {
      const now = await api.job(job.id).catch(() => undefined);
      cancelNotes.set(
        job.id,
        `Not canceled: the job ${now ? `had already ${now.status}` : "finished first"}.`,
      );
      publish(now ?? job, onEdit);
    } else {
      cancelNotes.set(job.id, `Could not cancel: ${err instanceof Error ? err.message : String(err)}`);
      publish(job, onEdit);
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Shows a job and keeps its card current until it ends: polls GET /v1/jobs/{id}, quickly at first, then every
 * 2 s, and ticks the timer in between. Each job polls on its own, so the page stays usable while jobs run.
 */
export async function watchJob(first: Job, card: HTMLElement, onEdit: EditImage): Promise<Job> {
  let job = first;
  let current = card;
  const render = () => {
    const next = jobCard(job, onEdit);
    // Keep keyboard focus across the re-render: on the same control, or on the card if that control is gone
    // (Cancel, once the job ended), never dropped to the page.
    const focused = current.contains(document.activeElement) ? document.activeElement : null;
    current.replaceWith(next);
    current = next;
    if (focused) {
      const label = focused.getAttribute("aria-label");
      const same = label ? next.querySelector<HTMLElement>(`[aria-label="${CSS.escape(label)}"]`) : null;
      if (same) same.focus();
      else {
        next.tabIndex = -1;
        next.focus();
      }
    }
  };
  // A cancel from this card (or another card of the job) ends the job at once, without waiting for a poll.
  const update = (next: Job) => {
    job = next;
    render();
  };
  const views = watchers.get(job.id) ?? new Set();
  views.add(update);
  watchers.set(job.id, views);
  // Previews as they form (partial_images), from the job's event stream; polling still shows the rest.
  const following = new AbortController();
  if (job.input.partial_images) {
    const changed = () => {
      if (!isTerminal(job.status)) render();
    };
    void followPreviews(job.id, changed, following.signal);
  }
  const tick = setInterval(() => {
    const status = current.querySelector(".status-text");
    if (status && !isTerminal(job.status)) status.textContent = timings(job, Date.now());
  }, 250);
  try {
    for (let delay = 400; !isTerminal(job.status); delay = Math.min(delay * 1.5, 2000)) {
      await sleep(delay);
      let polled: Job;
      try {
        polled = await api.job(job.id);
      } catch {
        continue; // A failed poll is retried; the job itself is unaffected.
      }
      // A poll sent before a cancel answered may come back after it: the ended job stays ended.
      if (!isTerminal(job.status)) update(polled);
    }
  } finally {
    following.abort();
    forgetPreviews(job.id);
    clearInterval(tick);
    views.delete(update);
    if (views.size === 0) watchers.delete(job.id);
  }
  return job;
}

/** Submits a job and shows it at the top of `list`, live until it ends. */
export async function submitAndWatch(
  list: HTMLElement,
  operation: string,
  input: Record<string, unknown>,
  onEdit: EditImage,
): Promise<Job> {
  const job = await api.submit(operation, input);
  const card = jobCard(job, onEdit);
  list.prepend(card);
  return watchJob(job, card, onEdit);
}

const pageSize = 8;

/** The tenant's jobs, newest first, a page at a time (next_cursor). */
export function jobList(
  els: {
    list: HTMLElement;
    more: HTMLButtonElement;
    refresh: HTMLButtonElement;
    status: HTMLElement;
    error: HTMLElement;
    /** "" for every job, or one status. */
    filter: HTMLSelectElement;
  },
  onEdit: EditImage,
) {
  let cursor: string | null = null;
  let loading = false;
  // A reload (Refresh, a new filter) supersedes a load in flight; only the latest one's page is shown.
  let latest = 0;

  const load = async (reset: boolean) => {
    if (loading && !reset) return;
    const mine = ++latest;
    loading = true;
    els.error.hidden = true;
    els.status.textContent = "Loading…";
    try {
      const status = (els.filter.value || undefined) as JobStatus | undefined;
      const page = await api.jobs(pageSize, reset ? undefined : (cursor ?? undefined), status);
      if (mine !== latest) return;
      if (reset) els.list.replaceChildren();
      const now = Date.now();
      for (const job of page.data) {
        const card = jobCard(job, onEdit, now);
        els.list.append(card);
        if (!isTerminal(job.status)) void watchJob(job, card, onEdit);
      }
      cursor = page.next_cursor;
      els.more.hidden = !page.has_more;
      const shown = els.list.children.length;
      const which = status ? `${status} ` : "";
      els.status.textContent =
        shown === 0
          ? `No ${which}jobs${status ? "" : " yet"}.`
          : `${shown} ${which}job${shown === 1 ? "" : "s"} shown${page.has_more ? "" : ", all loaded"}.`;
    } catch (err) {
      if (mine !== latest) return;
      els.error.textContent = err instanceof Error ? err.message : String(err);
      els.error.hidden = false;
      els.status.textContent = "";
    } finally {
      if (mine === latest) loading = false;
    }
  };

  els.refresh.addEventListener("click", () => void load(true));
  els.filter.addEventListener("change", () => void load(true));
  els.more.addEventListener("click", () => void load(false));
  return { reload: () => load(true) };
}
