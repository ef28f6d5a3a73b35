import { webIsStale } from "../web.ts";

// `npm start`: one process from the playground's build to the running sandbox, which the script execs in place of
// npm's shell, so that SIGINT or SIGTERM to npm (forwarded to this process) or to this process stops the sandbox.

// Rebuilds the playground when web/ changed since the last build (build-web.ts prints what it built).
if (webIsStale()) await import("../build-web.ts");
await import("./main.ts");
