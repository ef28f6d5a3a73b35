// The composition root: every function is made here, the same way, from its configuration and the process's
// clients (lib/runtime/scope.ts's FunctionFactory); each adapter is made in one place (lib/runtime/adapters.ts).
// functions/*.ts, the sandbox and the tests all start from here. One file per function, so a function's bundle
// holds only what it reaches (package.json declares "sideEffects": false).

export * from "./runtime/api.ts";
export * from "./runtime/batch-poller.ts";
export * from "./runtime/clients.ts";
export * from "./runtime/dlq.ts";
export * from "./runtime/inbox.ts";
export * from "./runtime/lambda.ts";
export * from "./runtime/observability.ts";
export * from "./runtime/providers.ts";
export * from "./runtime/scope.ts";
export * from "./runtime/secrets.ts";
export * from "./runtime/webhooks.ts";
export * from "./runtime/worker.ts";
