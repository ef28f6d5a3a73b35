import type { FakeOpenAI } from "../test/support/fake-openai.ts";
import type { Portkey, Sandbox } from "./harness.ts";

/** What every section gets. `repeats` is how many runs each figure is the median of. */
export interface BenchContext {
  sandbox: Sandbox;
  provider: FakeOpenAI;
  portkey: Portkey | undefined;
  repeats: number;
  /** Smaller loads for a quick look while developing (`--quick`); the figures are then rougher. */
  quick: boolean;
  log(message: string): void;
}

/** A figure the bench could not take, and why: never a number standing in for one. */
export const notMeasured = "not measured" as const;
export type Measured<T> = T | typeof notMeasured;
