// `npm start` and `npm run sandbox:worker` exec their process in place of npm's shell, so npm's PID has one child:
// this process. npm forwards SIGINT and SIGTERM to it, and a terminal's Ctrl-C reaches it twice: from the terminal
// (the whole foreground group) and forwarded by npm. Both copies of one Ctrl-C are one request to stop.
const echoMs = 1_000;

/**
 * On SIGINT or SIGTERM: `stop()` (let running work finish and close what is open), then exit 0, or 1 if it failed.
 * A second signal from `echoMs` on forces the exit at once; one sooner is the echo of the first.
 */
export function stopOnSignals(stop: () => Promise<void>, out: { write(text: string): unknown }): void {
  let requestedAt: number | undefined;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (requestedAt !== undefined) {
        if (Date.now() - requestedAt < echoMs) return;
        out.write("Forced exit.\n");
        process.exit(130);
      }
      requestedAt = Date.now();
      out.write(`\n${signal}: finishing running jobs, then stopping...\n`);
      stop().then(
        () => {
          out.write("Stopped cleanly.\n");
          process.exit(0);
        },
        (err: unknown) => {
          process.stderr.write(`Stop failed: ${String(err)}\n`);
          process.exit(1);
        },
      );
    });
  }
}
