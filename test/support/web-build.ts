import { ensureWebBuilt } from "../../infra/web.ts";

/** Vitest global setup: the sandbox serves the playground from web/dist, built once before any test runs. */
export default async function setup(): Promise<void> {
  await ensureWebBuilt();
}
