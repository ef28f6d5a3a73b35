import { loadConfig } from "../lib/config.ts";
import { createApi, withAdminKey, withProviderKey } from "../lib/runtime.ts";

// Cold start: parse the configuration (a bad value fails here, not on the first request), read the provider key
// and the admin key from Secrets Manager once, and build clients once.
export const handler = createApi(await withAdminKey(await withProviderKey(loadConfig())));
