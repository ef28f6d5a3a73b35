import { startEmulators } from "../../infra/sandbox/emulators.ts";

// The emulators in their own process, in memory: AWS's work happens elsewhere, so theirs must not be
// charged to the service's event loop. Prints its endpoints as one JSON line, then runs until signalled.

const emulators = await startEmulators({ host: "127.0.0.1", awsPort: 0, dynamoPort: 0 });
process.stdout.write(
  `${JSON.stringify({ awsEndpoint: emulators.awsEndpoint, dynamoEndpoint: emulators.dynamoEndpoint })}\n`,
);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    emulators.stop().then(() => process.exit(0));
  });
}
