import type { MiddlewareObj } from "@middy/core";

/** A front door's answer for a request whose handling threw: the one mapping from errors to its error shape. */
export interface ErrorAnswers<E, R> {
  rejected(event: E, err: unknown): R;
}

/**
 * Errors to the API's envelope: whatever the handler throws becomes the answer `front.rejected` makes of it
 * (lib/api/app.ts: toApiError, in the error shape of the API the path serves). It sets the response and lets the
 * other middlewares' onError run (logs, metrics), so nothing after it sees an unhandled error.
 */
export function errorEnvelope<E, R>(front: ErrorAnswers<E, R>): MiddlewareObj<E, R> {
  return {
    onError: (request) => {
      request.response = front.rejected(request.event, request.error);
    },
  };
}
