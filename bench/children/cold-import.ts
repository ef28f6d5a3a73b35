// Cold import of one function bundle in a fresh process: the time from "import" to the module being ready,
// which is the part of a Lambda cold start the code controls (the runtime's own boot is not included).
// argv[2] is the bundle; argv[3], optional, a JSON list of external modules (the AWS SDK clients) to load first,
// outside the timing, to see the bundle's own share. The environment is the function's configuration. Prints one
// JSON line.

// The Lambda runtime gives every function the global `awslambda`; the streaming API's chain needs it when made.
(globalThis as { awslambda?: unknown }).awslambda ??= { streamifyResponse: (handler: unknown) => handler };
for (const name of JSON.parse(process.argv[3] ?? "[]") as string[]) await import(name);
const started = performance.now();
await import(process.argv[2] ?? "");
const ms = performance.now() - started;
process.stdout.write(`${JSON.stringify({ ms })}\n`);
process.exit(0);
