import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";

// The README is a front door and the guides are in docs/: every relative link lands on a file and a heading that
// exist, and CI runs exactly the commands the docs give.

const root = new URL("../../", import.meta.url).pathname;
const pages = ["README.md", ...readdirSync(join(root, "docs"), { withFileTypes: true })]
  .map((e) => (typeof e === "string" ? e : e.isFile() && e.name.endsWith(".md") ? `docs/${e.name}` : ""))
  .filter(Boolean);
const read = (page: string) => readFileSync(join(root, page), "utf8");

/** The page's lines outside fenced code. */
function prose(text: string): string[] {
  let fenced = false;
  return text.split("\n").filter((line) => {
    if (line.startsWith("```")) fenced = !fenced;
    return !fenced && !line.startsWith("```");
  });
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");

const anchors = (page: string) =>
  new Set(
    prose(read(page))
      .map((line) => /^#{1,6} (.+)$/.exec(line)?.[1])
      .filter((h): h is string => h !== undefined)
      .map(slug),
  );

/** The commands of a bash block or script: no comments, blank lines, `set` or `cd`. */
const commands = (lines: string[]) =>
  lines
    .map((l) => l.replace(/\s+#\s.*$/, "").trim())
    .filter((l) => l && !l.startsWith("#") && !/^(set|cd) /.test(l));

function bashBlockAfter(text: string, marker: string): string[] {
  const start = text.indexOf("```bash\n", text.indexOf(marker));
  return text.slice(start + 8, text.indexOf("\n```", start)).split("\n");
}

describe("the README and the guides", () => {
  it("keep the README a front door: at most 250 lines", () => {
    expect(read("README.md").split("\n").length).toBeLessThanOrEqual(250);
  });

  it("link only to files and headings that exist", () => {
    const broken: string[] = [];
    for (const page of pages) {
      for (const line of prose(read(page))) {
        for (const [, target] of line.matchAll(/\]\(([^)\s]+)\)/g)) {
          if (!target || /^[a-z]+:/.test(target)) continue;
          const [path, anchor] = target.split("#") as [string, string | undefined];
          const file = path ? relative(root, join(root, dirname(page), path)) : page;
          if (!existsSync(join(root, file))) broken.push(`${page}: ${target} (no ${file})`);
          else if (anchor && file.endsWith(".md") && !anchors(file).has(anchor))
            broken.push(`${page}: ${target} (no heading #${anchor} in ${file})`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it("give the commands CI runs, and the README's install and test are among them", () => {
    const ci = commands(read(".ci/run").split("\n"));
    expect(ci).toEqual(commands(bashBlockAfter(read("docs/development.md"), "CI (`.ci/run`) runs exactly")));
    const quickStart = commands(bashBlockAfter(read("README.md"), "## Quick start"));
    expect(quickStart).toEqual(["npm ci", "npm start", "npm test"]);
    expect(ci).toEqual(expect.arrayContaining(["npm ci", "npm test"]));
  });
});
