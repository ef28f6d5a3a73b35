/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
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
    parser: "swc",
    tsConfig: { fileName: "tsconfig.json" },
    // Type-only imports count: a function that names a type from elsewhere reaches past the root.
    tsPreCompilationDeps: true,
    doNotFollow: { path: "node_modules" },
    // Packages' subpath exports (@middy/core/StreamifyResponse) resolve as Node resolves them.
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
    },
  },
};
