import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { buildWeb, webDist, webIsStale } from "./web.ts";

// `npm run build:web` builds the playground and prints its files; `--if-stale` skips an up-to-date build
// (`npm start` and the CDK stack use it).

if (process.argv.includes("--if-stale") && !webIsStale()) process.exit(0);
const { files } = await buildWeb();
let total = 0;
let gzipped = 0;
for (const f of files) {
  const gz = gzipSync(readFileSync(join(webDist, f.name))).length;
  total += f.bytes;
  gzipped += gz;
  process.stdout.write(
    `  web/dist/${f.name}  ${(f.bytes / 1024).toFixed(1)} KiB (gzip ${(gz / 1024).toFixed(1)} KiB)\n`,
  );
}
process.stdout.write(
  `  playground: ${(total / 1024).toFixed(1)} KiB (gzip ${(gzipped / 1024).toFixed(1)} KiB)\n`,
);
