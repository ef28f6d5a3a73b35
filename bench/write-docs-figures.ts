import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { collect, guides, rewriteBlocks, root, type Source, snapshots, sources } from "./docs-figures.ts";

// `npm run docs:figures`: keeps what the last `npm run bench`, `npm run simulate` and `npm run test:reliability`
// measured in docs/figures/, and rewrites the marked blocks of the guides from it (bench/docs-figures.ts).

const { figures, found } = collect();
for (const source of Object.keys(snapshots) as Source[]) {
  const value = figures[source];
  if (!found.includes(source)) {
    process.stdout.write(
      `${sources[source]}: not found; ${value ? `keeping ${snapshots[source]}` : "its blocks say how to record it"}\n`,
    );
  }
  if (value === undefined) continue;
  const path = join(root, snapshots[source]);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}
for (const guide of Object.keys(guides)) {
  const path = join(root, guide);
  const before = await readFile(path, "utf8");
  const after = rewriteBlocks(before, figures);
  if (after !== before) await writeFile(path, after);
  process.stdout.write(`${guide}: ${after === before ? "unchanged" : "rewritten"}\n`);
}
