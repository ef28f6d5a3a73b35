import { loadConfig } from "../lib/config.ts";
import { createStreamingApi, withAdminKey, withCdnKey } from "../lib/runtime.ts";

// The API behind the Function URL (InvokeMode RESPONSE_STREAM): the same routes as functions/api.ts, whose
// Server-Sent Events (stream: true, GET /v1/jobs/{id}/events) reach the client as they are made. Cold start as
// there: the configuration and the admin key from Secrets Manager, clients made once.
export const handler = createStreamingApi(await withCdnKey(await withAdminKey(loadConfig(), "api"), "api"));
