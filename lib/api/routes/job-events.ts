import * as z from "zod/mini";
import { InvalidRequestError, NotFoundError } from "../../errors.ts";
import { isTerminal, type Job, jobIdPattern, type PartialImage } from "../../jobs/model.ts";
import { jobResource } from "../../jobs/view.ts";
import type { ImageStore } from "../../storage/images.ts";
import { parseRequest } from "../../validation.ts";
import type { Route } from "../router.ts";
import { sseFrame, sseHeaders } from "../sse.ts";
import type { RouteDeps } from "./deps.ts";

// GET /v1/jobs/{id}/events: a job's progress as Server-Sent Events, for the async API's users (and the playground).
// The events are a function of the job's record, in a fixed order that only ever grows:
//   job.queued, then per attempt job.running and the partial images it recorded, then the terminal event
//   (job.succeeded, job.failed or job.canceled, with the job as GET /v1/jobs/{id} shows it).
// So an event's id is its position in that list, the same on every connection: a client that reconnects with
// Last-Event-ID gets what came after it, and one that already has the end gets 204, which stops EventSource.
// Partial images come as URLs (presigned, like the job's outputs), never inline.

/** How long a client waits before reconnecting after the stream ends without the job's end (the front door's limit). */
const reconnectMs = 1_000;

interface Described {
  event: string;
  data: (images: ImageStore) => Promise<unknown> | unknown;
}

const iso = (ms: number) => new Date(ms).toISOString();

async function partialView(job: Job, p: PartialImage, images: ImageStore) {
  return {
    job_id: job.id,
    image_index: p.image,
    partial_image_index: p.index,
    url: await images.url(p.key),
    width: p.width,
    height: p.height,
    format: p.format,
    bytes: p.bytes,
    created_at: iso(p.created_at),
  };
}

/** The job's events so far, in their fixed order (see above). */
export function jobEvents(job: Job): Described[] {
  const events: Described[] = [
    {
      event: "job.queued",
      data: () => ({ job_id: job.id, status: "queued", created_at: iso(job.created_at) }),
    },
  ];
  const partials = job.partials ?? [];
  // A retry shows as the next attempt's job.running: the requeue between them leaves nothing on the record.
  for (let attempt = 1; attempt <= job.attempts; attempt++) {
    events.push({ event: "job.running", data: () => ({ job_id: job.id, status: "running", attempt }) });
    for (const p of partials.filter((x) => x.attempt === attempt)) {
      events.push({ event: "job.partial_image", data: (images) => partialView(job, p, images) });
    }
  }
  if (isTerminal(job.status)) {
    events.push({ event: `job.${job.status}`, data: (images) => jobResource(job, images) });
  }
  return events;
}

const eventId = /^\d{1,9}$/;

/** For clients that cannot set headers on their first request; the header wins when both are given. */
export const lastEventQuery = z.strictObject({
  last_event_id: z.optional(
    z
      .string()
      .check(z.regex(eventId, "must be the id of an event of this stream"), z.describe("As Last-Event-ID.")),
  ),
});

/** Last-Event-ID (the header EventSource sends when it reconnects, or the query parameter): -1 when absent. */
function lastEventId(header: string | undefined, query: URLSearchParams): number {
  const fromQuery = parseRequest(lastEventQuery, Object.fromEntries(query)).last_event_id;
  if (header === undefined) return fromQuery === undefined ? -1 : Number(fromQuery);
  if (!eventId.test(header.trim())) {
    throw new InvalidRequestError("Last-Event-ID must be the id of an event of this stream.", {
      param: "Last-Event-ID",
    });
  }
  return Number(header.trim());
}

async function* eventStream(deps: RouteDeps, first: Job, after: number): AsyncGenerator<string> {
  yield sseFrame({ retry: reconnectMs });
  let next = after + 1;
  for await (const job of deps.jobs.watch(first.tenant, first.id, deps.syncWaitMs, {
    progress: true,
    pollMs: 100,
  })) {
    const events = jobEvents(job);
    for (; next < events.length; next++) {
      const e = events[next] as Described;
      yield sseFrame({ event: e.event, id: String(next), data: JSON.stringify(await e.data(deps.images)) });
    }
  }
}

export const jobEventRoutes = (deps: RouteDeps): Route[] => [
  {
    method: "GET",
    path: "/v1/jobs/{id}/events",
    doc: {
      operationId: "streamJobEvents",
      summary: "Follow a job as Server-Sent Events",
      description:
        "The job's status changes, its partial images as URLs (when its input asked for partial_images) and its end: job.queued, job.running (per attempt), job.partial_image, then job.succeeded, job.failed or job.canceled with the job, after which the stream ends. Each event's id is its position: reconnect with Last-Event-ID (EventSource does) to get the events after it. The stream also ends at the deployment's wait limit; reconnect to go on. Behind the HTTP API the events arrive together when the stream ends; the Function URL sends them as they happen.",
      tag: "Jobs",
      params: { id: "The job's id, job_ followed by 26 characters." },
      query: lastEventQuery,
      headers: ["Last-Event-ID"],
      responses: {
        200: {
          description: "text/event-stream: the job's events after Last-Event-ID.",
          events: "JobEvent",
        },
        204: {
          description: "The job has ended and Last-Event-ID was its last event: nothing more will come.",
        },
      },
    },
    handle: async (ctx) => {
      const id = ctx.params.id ?? "";
      const after = lastEventId(ctx.req.headers["last-event-id"], ctx.req.query);
      const job = jobIdPattern.test(id) ? await deps.jobs.get(ctx.principal.tenant, id) : undefined;
      if (!job) throw new NotFoundError(`No job with id '${id}'.`, { param: "id" });
      if (isTerminal(job.status) && after >= jobEvents(job).length - 1) return { status: 204 };
      return {
        status: 200,
        headers: { ...sseHeaders, "x-job-id": job.id },
        events: eventStream(deps, job, after),
      };
    },
  },
];
