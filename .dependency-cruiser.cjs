// The architecture's rules, checked by `npm test` (npm run deps). lib/jobs is the core: the job model, its
// events and the ports it needs. Adapters (webhooks, limits, usage, inbox, storage, providers, api) depend on it,
// never the other way. Leaves (catalog, layout, images, net, queue, auth) depend on no adapter and not on the core.

/** The adapters around the core. */
const adapters = "webhooks|limits|usage|inbox|storage|providers|api";

/** @type {import("dependency-cruiser").IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "No module imports itself through others.",
      from: {},
      to: { circular: true },
    },
    {
      name: "no-folder-cycles",
      severity: "error",
      comment:
        "No cycle between lib/ folders (lib/a → lib/b → lib/a), even where no single file is in a cycle. " +
        "Cycles among the subfolders of one folder (lib/api/*) are that folder's own business.",
      scope: "folder",
      from: { path: "^lib/([^/]+)" },
      to: { path: "^lib/", pathNot: "^lib/$1(/|$)", circular: true },
    },
    {
      name: "core-imports-no-adapter",
      severity: "error",
      comment: "lib/jobs owns the ports it needs (lib/jobs/ports); the adapters implement them.",
      from: { path: "^lib/jobs/" },
      to: { path: `^lib/(${adapters})/` },
    },
    {
      name: "adapters-import-no-edge",
      severity: "error",
      comment:
        "Only the composition root wires the HTTP edge; an adapter that needs something of lib/api needs it in the core.",
      from: { path: `^lib/(${adapters})/`, pathNot: "^lib/api/" },
      to: { path: "^lib/api/" },
    },
    {
      name: "leaves-stay-leaves",
      severity: "error",
      comment:
        "The catalog, the storage layout, images, net, queue and auth import neither the core nor an adapter.",
      from: { path: "^lib/(catalog|layout|images|net|queue|auth)/" },
      to: { path: `^lib/(jobs|${adapters})/` },
    },
    {
      name: "functions-import-root-and-middleware",
      comment:
        "A functions/ file shows its middy chain and starts from the composition root: it imports lib/runtime.ts " +
        "(or lib/runtime/), lib/middleware/, middy, and aws-lambda's types, nothing else.",
      severity: "error",
      from: { path: "^functions/" },
      to: {
        pathNot: [
          "^lib/runtime[.]ts$",
          "^lib/runtime/",
          "^lib/middleware/",
          "^node_modules/@middy/",
          "^node_modules/@types/aws-lambda/",
        ],
      },
    },
  ],
  options: {
    // TypeScript 7 has no JavaScript API: swc parses, and tsconfig.json resolves.
    parser: "swc",
    // swc keeps type-only imports: they are dependencies of the design too. (tsPreCompilationDeps would need tsc.)
    tsConfig: { fileName: "tsconfig.json" },
    doNotFollow: { path: "node_modules" },
    exclude: { path: "node_modules" },
    // Packages' subpath exports (@middy/core/StreamifyResponse) resolve as Node resolves them.
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
    },
  },
};
