import { loadConfig } from "../lib/config.ts";
import { createDeadLetterHandler } from "../lib/runtime.ts";
import { createTracing } from "../lib/tracing.ts";

const config = loadConfig();

/** The jobs DLQ: each message that exhausted its receives fails its job (`retries_exhausted`). */
export const handler = createDeadLetterHandler(config, undefined, await createTracing(config, "dlq"));
