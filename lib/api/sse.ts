import type { ApiError } from "../errors.ts";

// Server-Sent Events (text/event-stream), as OpenAI streams its image events: `event: <type>`, then
// `data: <json>`, then a blank line. Bodies that carry images are built around their base64, which needs no
// escaping, instead of passing megabytes through JSON.stringify.

export const sseHeaders = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
} as const;

export interface SseEvent {
  event?: string;
  id?: string;
  /** Tells the client how long to wait before reconnecting (EventSource's `retry`). */
  retry?: number;
  /** JSON on one line: `data` never spans lines here. Without it the frame dispatches no event (`retry` alone). */
  data?: string;
}

export function sseFrame(e: SseEvent): string {
  const lines = [
    ...(e.event === undefined ? [] : [`event: ${e.event}`]),
    ...(e.id === undefined ? [] : [`id: ${e.id}`]),
    ...(e.retry === undefined ? [] : [`retry: ${e.retry}`]),
    ...(e.data === undefined ? [] : [`data: ${e.data}`]),
  ];
  return `${lines.join("\n")}\n\n`;
}

/** `{"b64_json":"…", ...fields}` as JSON.stringify would write it, with the base64 spliced in. */
export function jsonWithBase64(b64: string, fields: Record<string, unknown>): string {
  const rest = JSON.stringify(fields);
  return `{"b64_json":"${b64}"${rest === "{}" ? "}" : `,${rest.slice(1)}`}`;
}

/** An error once the stream has begun (its 200 already sent): OpenAI's `error` event, its envelope as data. */
export function errorFrame(error: ApiError): string {
  return sseFrame({ event: "error", data: JSON.stringify(error.toBody()) });
}
