import type { SQSEvent } from "aws-lambda";
import { lambdaContext, type SqsHandler } from "../../infra/sandbox/lambda.ts";

// The worker Lambda alone in a process, as Lambda runs it: import its bundle (argv[3]; the cold start), hand it
// one SQS event (argv[2], JSON), report the process's peak resident memory. Configuration comes from the
// environment, read by lib/config.ts as in Lambda. Prints one JSON line.

const event = JSON.parse(process.argv[2] ?? "") as SQSEvent;
const mb = (kib: number) => kib / 1024;
const worker = (await import(process.argv[3] ?? "")) as { handler: SqsHandler };
const idleRssMb = mb(process.resourceUsage().maxRSS);
const started = performance.now();
const result = await worker.handler(event, lambdaContext("worker", 300_000));
process.stdout.write(
  `${JSON.stringify({
    idle_rss_mb: idleRssMb,
    peak_rss_mb: mb(process.resourceUsage().maxRSS),
    ms: performance.now() - started,
    failures: result?.batchItemFailures ?? [],
  })}\n`,
);
process.exit(0);
