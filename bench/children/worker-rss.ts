import { readFileSync } from "node:fs";
import type { SQSEvent } from "aws-lambda";
import { lambdaContext, type SqsHandler } from "../../infra/sandbox/lambda.ts";

// The worker Lambda alone in a process, as Lambda runs it: import its bundle (argv[3]; the cold start), hand it
// one SQS event (argv[2], JSON), report the process's peak resident memory. Configuration comes from the
// environment, read by lib/config.ts as in Lambda. Prints one JSON line.

const event = JSON.parse(process.argv[2] ?? "") as SQSEvent;

/**
 * This process's peak RSS in MB: VmHWM, which belongs to the process's own memory map since exec. Not
 * getrusage's maxRSS, which Linux carries over from before exec, so a child of a large parent (the bench holds the
 * provider's images and every sample) would report the parent's RSS at fork time.
 */
function peakRssMb(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (hwm) return Number(hwm[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}

const worker = (await import(process.argv[3] ?? "")) as { handler: SqsHandler };
const idleRssMb = peakRssMb();
const started = performance.now();
const result = await worker.handler(event, lambdaContext("worker", 300_000));
process.stdout.write(
  `${JSON.stringify({
    idle_rss_mb: idleRssMb,
    peak_rss_mb: peakRssMb(),
    ms: performance.now() - started,
    failures: result?.batchItemFailures ?? [],
  })}\n`,
);
process.exit(0);
