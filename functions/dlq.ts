import { loadConfig } from "../lib/config.ts";
import { createDeadLetterHandler } from "../lib/runtime.ts";

/** The jobs DLQ: each message that exhausted its receives fails its job (`retries_exhausted`). */
export const handler = createDeadLetterHandler(loadConfig());
