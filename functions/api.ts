import { loadConfig } from "../lib/config.ts";
import { createApi } from "../lib/runtime.ts";

// Cold start: parse the configuration (a bad value fails here, not on the first request) and build clients once.
export const handler = createApi(loadConfig());
