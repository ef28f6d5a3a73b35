import { api, isTerminal, type Job } from "./api.ts";
import { h } from "./dom.ts";

// Job cards (status, timings, cost, thumbnails, downloads, the error on failure), live status by polling
// GET /v1/jobs/{id}, and the paged job list.

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
      : null,
    job.error
      ? h("p", { class: "job-error" }, h("strong", {}, `${job.error.code}: `), job.error.message)
      : null,
    job.notice ? h("p", { class: "notice" }, job.notice) : null,
    h(
      "footer",
      {},
      h("span", { class: "status-text" }, timings(job, now)),
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
    current.replaceWith(next);
    current = next;
  };
  const tick = setInterval(() => {
    const status = current.querySelector(".status-text");
    if (status && !isTerminal(job.status)) status.textContent = timings(job, Date.now());
  }, 250);
  try {
    for (let delay = 400; !isTerminal(job.status); delay = Math.min(delay * 1.5, 2000)) {
      await sleep(delay);
      try {
        job = await api.job(job.id);
      } catch {
        continue; // A failed poll is retried; the job itself is unaffected.
      }
      render();
    }
  } finally {
    clearInterval(tick);
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
  },
  onEdit: EditImage,
) {
  let cursor: string | null = null;
  let loading = false;

  const load = async (reset: boolean) => {
    if (loading) return;
    loading = true;
    els.error.hidden = true;
    els.status.textContent = "Loading…";
    try {
      const page = await api.jobs(pageSize, reset ? undefined : (cursor ?? undefined));
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
      els.status.textContent =
        shown === 0
          ? "No jobs yet."
          : `${shown} job${shown === 1 ? "" : "s"} shown${page.has_more ? "" : ", all loaded"}.`;
    } catch (err) {
      els.error.textContent = err instanceof Error ? err.message : String(err);
      els.error.hidden = false;
      els.status.textContent = "";
    } finally {
      loading = false;
    }
  };

  els.refresh.addEventListener("click", () => void load(true));
  els.more.addEventListener("click", () => void load(false));
  return { reload: () => load(true) };
}
