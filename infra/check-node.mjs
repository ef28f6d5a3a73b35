// Plain JS so it runs on any Node: the guard must speak before TypeScript or vitest fail obscurely.
const want = 22;
const major = Number(process.versions.node.split(".")[0]);
if (major !== want) {
  console.error(
    `\nThis project runs on Node ${want} (Lambda's nodejs${want}.x), but this script ran on Node ${process.versions.node}.\n` +
      "npm scripts use node_modules/.bin/node from the `node` devDependency. It is missing when install\n" +
      "scripts were skipped (`npm ci --ignore-scripts`). Run `npm ci` and try again.\n",
  );
  process.exit(1);
}
