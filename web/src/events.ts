import { savedKey } from "./api.ts";
import { h } from "./dom.ts";

// Partial images as they come, for a job submitted with partial_images: GET /v1/jobs/{id}/events, read with fetch
// (EventSource cannot send the Authorization header). Each job.partial_image event names a preview by URL; the
// newest of each image is kept here and shown on the job's card until the job's own images replace it.

export interface Preview {
  image_index: number;
  partial_image_index: number;
  url: string;
  width: number;
  height: number;
}

/** The newest preview of each image, by job id, then by image index. */
const previews = new Map<string, Map<number, Preview>>();

/** Reconnects at most this many times (the stream ends at the front door's wait limit); then polling goes on. */
const maxConnections = 20;

const ends = new Set(["job.succeeded", "job.failed", "job.canceled"]);

/** Server-Sent Events of a response body: each event's name, id and data. */
async function* events(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    text += decoder.decode(value, { stream: true });
    let end = text.indexOf("\n\n");
    while (end >= 0) {
      const block = text.slice(0, end);
      text = text.slice(end + 2);
      end = text.indexOf("\n\n");
      const field = (name: string) =>
        block
          .split("\n")
          .find((line) => line.startsWith(`${name}:`))
          ?.slice(name.length + 1)
          .trim();
      const data = field("data");
      if (data !== undefined) yield { event: field("event"), id: field("id"), data };
    }
  }
}

/**
 * Follows a job's events until it ends or `signal` aborts, calling `changed` after each new preview. Resumes
 * with Last-Event-ID when a stream ends early. Best effort: the card's polling shows the job whatever happens here.
 */
export async function followPreviews(jobId: string, changed: () => void, signal: AbortSignal): Promise<void> {
  let last: string | undefined;
  for (let connection = 0; connection < maxConnections && !signal.aborted; connection++) {
    let res: Response;
    try {
      res = await fetch(`/v1/jobs/${encodeURIComponent(jobId)}/events`, {
        headers: {
          authorization: `Bearer ${savedKey()}`,
          ...(last !== undefined && { "last-event-id": last }),
        },
        signal,
      });
    } catch {
      return;
    }
    // 204: the job had ended before the last event seen; anything else: nothing to follow.
    if (res.status !== 200 || !res.body) return;
    try {
      for await (const e of events(res.body)) {
        if (e.id !== undefined) last = e.id;
        if (e.event && ends.has(e.event)) return;
        if (e.event !== "job.partial_image") continue;
        const p = JSON.parse(e.data) as Preview;
        const byImage = previews.get(jobId) ?? new Map<number, Preview>();
        const shown = byImage.get(p.image_index);
        if (shown && shown.partial_image_index >= p.partial_image_index) continue;
        byImage.set(p.image_index, p);
        previews.set(jobId, byImage);
        changed();
      }
    } catch {
      if (signal.aborted) return;
    }
  }
}

/** Forgets a job's previews, once its images are shown. */
export const forgetPreviews = (jobId: string): void => {
  previews.delete(jobId);
};

/** The job's newest previews, as the card shows them while the job runs; null when there are none. */
export function previewFigures(jobId: string, prompt: string | undefined): HTMLElement | null {
  const shown = [...(previews.get(jobId)?.values() ?? [])].sort((a, b) => a.image_index - b.image_index);
  if (shown.length === 0) return null;
  return h(
    "div",
    { class: "thumbs previews" },
    ...shown.map((p) =>
      h(
        "figure",
        {},
        h("img", {
          class: "partial",
          src: p.url,
          alt: `Preview ${p.partial_image_index + 1} of image ${p.image_index + 1} of job ${jobId}${prompt ? `: ${prompt}` : ""}`,
          width: p.width,
          height: p.height,
          "data-index": p.image_index,
          "data-partial-index": p.partial_image_index,
        }),
        h("figcaption", {}, `Preview ${p.partial_image_index + 1}, still forming`),
      ),
    ),
  );
}
