import type { Job } from "../model.ts";
import { executeGenerate } from "./generate.ts";
import type { Executor } from "./types.ts";

/** How each job operation runs. Adding an operation adds a row here and its module beside this one. */
export const executors: Record<Job["operation"], Executor> = {
  generate: executeGenerate,
};
