// Cold import of one function bundle in a fresh process: the time from "import" to the module being ready,
// which is the part of a Lambda cold start the code controls (the runtime's own boot is not included).
// argv[2] is the bundle; the environment is the function's configuration. Prints one JSON line.

const started = performance.now();
await import(process.argv[2] ?? "");
const ms = performance.now() - started;
process.stdout.write(`${JSON.stringify({ ms, rss_mb: process.resourceUsage().maxRSS / 1024 })}\n`);
process.exit(0);
