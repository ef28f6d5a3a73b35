import OpenAI, { type ClientOptions } from "openai";
import { assertImageStreamEvent, assertImagesAnswer, isImagesPath, parseSse } from "./openai-schemas.ts";

// The official SDK as the suites use it against this service: every Images answer it receives is checked against
// OpenAI's own schemas on its way in (test/support/openai-schemas.ts), so each suite's SDK calls check conformance.

/**
 * A fetch for the SDK that checks Images answers: JSON bodies before the SDK sees them, event streams frame by
 * frame as they arrive (a bad frame fails the stream where the test reads it, without holding the stream back).
 */
export const conformingFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  const url = new URL(input instanceof Request ? input.url : String(input));
  if (!isImagesPath(url.pathname)) return res;
  const what = `${init?.method ?? "GET"} ${url.pathname} (${res.status})`;
  const type = res.headers.get("content-type") ?? "";
  if (type.startsWith("text/event-stream") && res.body) {
    return new Response(res.body.pipeThrough(checkedEvents(what)), {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    });
  }
  assertImagesAnswer(res.status, type, await res.clone().text(), what);
  return res;
};

/** Passes an SSE body through unchanged, checking each complete frame against OpenAI's event schemas. */
function checkedEvents(what: string): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  let pending = "";
  const checkFrames = (text: string) => {
    for (const frame of parseSse(text)) {
      try {
        assertImageStreamEvent(JSON.parse(frame.data), frame.event);
      } catch (err) {
        throw new Error(`${what}: ${(err as Error).message}`);
      }
    }
  };
  return new TransformStream({
    transform(chunk, controller) {
      pending += decoder.decode(chunk, { stream: true });
      const end = pending.lastIndexOf("\n\n");
      if (end >= 0) {
        checkFrames(pending.slice(0, end));
        pending = pending.slice(end + 2);
      }
      controller.enqueue(chunk);
    },
    flush() {
      checkFrames(pending + decoder.decode());
    },
  });
}

/** The SDK pointed at `baseURL` with `apiKey`, no retries (each call is one request), checking conformance. */
export function openaiClient(baseURL: string, apiKey: string, options: ClientOptions = {}): OpenAI {
  return new OpenAI({ apiKey, baseURL, maxRetries: 0, fetch: conformingFetch, ...options });
}
