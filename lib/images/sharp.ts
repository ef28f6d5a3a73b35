import type Sharp from "sharp";

// sharp, loaded on first use. Its native module costs about 80 ms of cold start, and most API requests
// (generations, job reads, listings) never touch pixels; only requests with input images pay it, once per process.

let loading: Promise<typeof Sharp> | undefined;

export function loadSharp(): Promise<typeof Sharp> {
  loading ??= import("sharp").then((m) => m.default);
  return loading;
}
