import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  blocksIn,
  collect,
  type Figures,
  guides,
  readSnapshots,
  renderBlock,
  rewriteBlocks,
  root,
  type SuiteFigures,
  snapshots,
  sources,
} from "../../bench/docs-figures.ts";

// The guides' figures are what `npm run docs:figures` writes from docs/figures/, never typed by hand.

const read = (path: string) => readFileSync(join(root, path), "utf8");
const outsideBlocks = (text: string) =>
  text.replace(/<!-- figures:[a-z]+ -->[\s\S]*?<!-- \/figures -->/g, "");

const suite = (name: string, figures: Record<string, string | number>): SuiteFigures => ({
  suite: name,
  seed: 7,
  measured_at: "2026-12-01T10:00:00.000Z",
  figures,
});

describe("the figures in docs/", () => {
  it.each(Object.entries(guides))(
    "%s carries its blocks, exactly as docs/figures/ makes them",
    (guide, names) => {
      const text = read(guide);
      expect(blocksIn(text)).toEqual(names);
      // Differs when a figure was typed into a block, or docs/figures/ changed without `npm run docs:figures`.
      expect(text).toBe(rewriteBlocks(text, readSnapshots()));
    },
  );

  it.each(Object.keys(guides))("%s has no dated figures outside its blocks", (guide) => {
    expect(outsideBlocks(read(guide)).match(/\b20\d\d-\d\d-\d\d\b/g) ?? []).toEqual([]);
  });

  it("writes a block from its figures, so a changed figure changes the guide", () => {
    const figures: Figures = { reliability: { suites: { load: suite("load", { jobs: 1000, lost: 0 }) } } };
    const text = "before\n<!-- figures:reliability -->\nhand-typed\n<!-- /figures -->\nafter\n";
    const written = rewriteBlocks(text, figures);
    expect(written).toContain("| **load** (seed 7, 2026-12-01) | jobs | 1000 |");
    expect(written).not.toContain("hand-typed");
    expect(written.startsWith("before\n") && written.endsWith("after\n")).toBe(true);
    const changed: Figures = { reliability: { suites: { load: suite("load", { jobs: 1000, lost: 1 }) } } };
    expect(rewriteBlocks(written, changed)).toContain("|  | lost | 1 |");
    const onMachine: Figures = {
      reliability: { suites: { load: { ...suite("load", { jobs: 1000 }), machine: "2 × EPYC, load 3.1" } } },
    };
    expect(rewriteBlocks(text, onMachine)).toContain(
      "| **load** (seed 7, 2026-12-01; 2 × EPYC, load 3.1) | jobs | 1000 |",
    );
    // Rewriting what it wrote changes nothing.
    expect(rewriteBlocks(written, figures)).toBe(written);
    expect(() => rewriteBlocks("<!-- figures:other -->\n<!-- /figures -->", figures)).toThrow(/other/);
  });

  it("says how to record figures that no run has left, instead of a number", () => {
    for (const source of Object.keys(sources) as (keyof typeof sources)[]) {
      expect(renderBlock(source, {})).toMatch(/^No figures recorded yet\. Run `npm run [a-z:]+`/);
    }
  });

  it("keeps the last copy of a source a run did not leave, and replaces only the suites a run measured", () => {
    const dir = mkdtempSync(join(tmpdir(), "docs-figures-"));
    const write = (path: string, value: unknown) => {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), JSON.stringify(value));
    };
    write(snapshots.bench, { generated_at: "kept" });
    write(snapshots.reliability, {
      suites: { load: suite("load", { lost: 5 }), crash: suite("crash", { kills: 3 }) },
    });
    write(`${sources.reliability}/load.json`, suite("load", { lost: 0 }));
    const { figures, found } = collect(dir);
    expect(found).toEqual(["reliability"]);
    expect(figures.bench).toEqual({ generated_at: "kept" });
    expect(figures.simulate).toBeUndefined();
    expect(figures.reliability?.suites.load?.figures).toEqual({ lost: 0 });
    expect(figures.reliability?.suites.crash?.figures).toEqual({ kills: 3 });
  });
});
