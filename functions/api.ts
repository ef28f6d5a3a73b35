import { loadConfig } from "../lib/config.ts";
import { createApi, withAdminKey, withCdnKey } from "../lib/runtime.ts";

// Cold start: parse the configuration (a bad value fails here, not on the first request), read the admin key from
// Secrets Manager once (and the CloudFront signing key, when images go through the CDN), and build clients once. The API never reads the provider key: OPENAI_ENABLED, set by the
// stack, says the worker has one.
export const handler = createApi(await withCdnKey(await withAdminKey(loadConfig(), "api"), "api"));
