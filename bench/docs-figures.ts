import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { markdown } from "./report.ts";
import type { SimulationResult } from "./scale/simulate.ts";

// The figures in docs/ are written, never typed: `npm run docs:figures` copies what the last runs measured
// (bench/results/, which git ignores) into docs/figures/*.json, which git keeps, and rewrites every marked block
// of the guides from those copies. test/unit/docs-figures.test.ts fails when a block differs from what this
// module writes, so a figure cannot drift from its source, nor be edited by hand.

export const root = new URL("../", import.meta.url).pathname;

/** What the runs leave behind, relative to the repository. */
export const sources = {
  bench: "bench/results/latest.json",
  simulate: "bench/results/simulate.json",
  /** One file per suite, written by test/reliability/figures.ts at full size. */
  reliability: "bench/results/reliability",
} as const;

export type Source = keyof typeof sources;

/** The copies the docs are written from. */
export const snapshots: Record<Source, string> = {
  bench: "docs/figures/bench.json",
  simulate: "docs/figures/simulate.json",
  reliability: "docs/figures/reliability.json",
};

/** The guides that carry blocks, and the blocks each must carry. */
export const guides: Record<string, Source[]> = {
  "docs/performance.md": ["bench", "simulate"],
  "docs/reliability.md": ["reliability"],
};

export interface SuiteFigures {
  suite: string;
  seed: number;
  measured_at: string;
  /** Cores, CPU, Node and load average when the suite ended (records written before it was kept lack it). */
  machine?: string | undefined;
  figures: Record<string, string | number>;
}

export interface Figures {
  bench?: Record<string, unknown> | undefined;
  simulate?: SimulationResult | undefined;
  reliability?: { suites: Record<string, SuiteFigures> } | undefined;
}

/** The order the reliability suites are shown in; a suite not named here follows, by name. */
const suiteOrder = [
  "load",
  "crash",
  "fuzz",
  "fuzz: query parameters",
  "SSRF: image URLs",
  "SSRF: webhook URLs",
  "image bombs",
  "image bombs: large but legal",
  "isolation",
  "fairness",
  "provider limits",
];

const notRecorded = (command: string) =>
  `No figures recorded yet. Run \`${command}\`, then \`npm run docs:figures\`, and commit docs/figures/ with the guide.\n`;

function renderBench(bench: Record<string, unknown> | undefined): string {
  return bench ? markdown(bench) : notRecorded("npm run bench");
}

function renderSimulate(result: SimulationResult | undefined): string {
  if (!result) return notRecorded("npm run simulate");
  const s = result.scenario;
  const rows: [string, string][] = [
    ["Simulated jobs", String(result.simulated_jobs)],
    ...Object.entries(result.tenants).map(([t, r]): [string, string] => [
      `Queue wait p50 / p99, ${t} (${r.jobs} jobs)`,
      `${r.queue_wait_s.p50} / ${r.queue_wait_s.p99} s`,
    ]),
    ["Provider 429s", String(result.provider_429s)],
    ["Peak Lambda concurrency", String(result.peak_lambda_concurrency)],
    ...Object.entries(result.keys_needed_by_tier).map(([t, n]): [string, string] => [
      `Provider keys needed at ${t}`,
      String(n),
    ]),
    [
      "Cost per day, AWS / provider",
      `$${result.cost_per_day_usd.aws} / $${result.cost_per_day_usd.provider}`,
    ],
    ["Capacity waits", String(result.capacity_waits)],
    [
      `Every quiet tenant's queue wait p99 ≤ ${result.budget.quiet_p99_s_max} s`,
      result.budget.met
        ? `met (worst ${result.budget.worst_quiet_p99_s} s)`
        : `**not met**: worst ${result.budget.worst_quiet_p99_s} s, over by ${result.budget.over_by_s} s`,
    ],
  ];
  const scenario = Object.entries(s)
    .map(([k, v]) => `${k} ${Array.isArray(v) ? v.join("–") : String(v)}`)
    .join(", ");
  return [
    `Scenario: ${scenario}.`,
    "",
    "| Figure | Simulated |",
    "| --- | ---: |",
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    "",
  ].join("\n");
}

function renderReliability(reliability: Figures["reliability"]): string {
  const suites = Object.values(reliability?.suites ?? {});
  if (suites.length === 0) return notRecorded("npm run test:reliability");
  const rank = (s: SuiteFigures) => {
    const i = suiteOrder.indexOf(s.suite);
    return i === -1 ? suiteOrder.length : i;
  };
  suites.sort((a, b) => rank(a) - rank(b) || a.suite.localeCompare(b.suite));
  const cell = (v: string | number) => String(v).replaceAll("|", "\\|");
  const rows = suites.flatMap((s) =>
    Object.entries(s.figures)
      .filter(([k]) => k !== "seed")
      .map(
        ([k, v], i) =>
          `| ${i === 0 ? `**${s.suite}** (seed ${s.seed}, ${s.measured_at.slice(0, 10)}${s.machine ? `; ${cell(s.machine)}` : ""})` : ""} | ${cell(k.trim())} | ${cell(v)} |`,
      ),
  );
  return ["| Suite | Figure | Measured |", "| --- | --- | ---: |", ...rows, ""].join("\n");
}

/** A block's content, from the figures; `undefined` figures say how to record them. */
export function renderBlock(source: Source, figures: Figures): string {
  if (source === "bench") return renderBench(figures.bench);
  if (source === "simulate") return renderSimulate(figures.simulate);
  return renderReliability(figures.reliability);
}

const block = /(<!-- figures:([a-z]+) -->\n)[\s\S]*?(<!-- \/figures -->)/g;

/** `text` with every marked block rewritten; a block of an unknown source is an error. */
export function rewriteBlocks(text: string, figures: Figures): string {
  return text.replace(block, (_all, open: string, name: string, close: string) => {
    if (!(name in sources)) throw new Error(`Unknown figures block "${name}"`);
    return `${open}\n${renderBlock(name as Source, figures)}\n${close}`;
  });
}

/** The sources of the blocks `text` carries, in order. */
export function blocksIn(text: string): string[] {
  return [...text.matchAll(block)].map((m) => m[2] as string);
}

const readJson = <T>(path: string): T | undefined =>
  existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as T) : undefined;

/** The figures the docs are written from: the kept copies. */
export function readSnapshots(dir = root): Figures {
  return {
    bench: readJson(join(dir, snapshots.bench)),
    simulate: readJson(join(dir, snapshots.simulate)),
    reliability: readJson(join(dir, snapshots.reliability)),
  };
}

/**
 * The kept copies updated from whatever the runs left: a source that is missing keeps its copy (or its "not
 * recorded" note); the reliability suites of a run replace only those suites.
 */
export function collect(dir = root): { figures: Figures; found: Source[] } {
  const kept = readSnapshots(dir);
  const found: Source[] = [];
  const bench = readJson<Record<string, unknown>>(join(dir, sources.bench));
  if (bench) found.push("bench");
  const simulate = readJson<SimulationResult>(join(dir, sources.simulate));
  if (simulate) found.push("simulate");
  const suitesDir = join(dir, sources.reliability);
  const measured = existsSync(suitesDir)
    ? readdirSync(suitesDir)
        .filter((f) => f.endsWith(".json"))
        .sort()
        .map((f) => readJson<SuiteFigures>(join(suitesDir, f)) as SuiteFigures)
    : [];
  if (measured.length > 0) found.push("reliability");
  const suites = { ...kept.reliability?.suites };
  for (const s of measured) suites[s.suite] = s;
  return {
    figures: {
      bench: bench ?? kept.bench,
      simulate: simulate ?? kept.simulate,
      reliability: Object.keys(suites).length > 0 ? { suites } : undefined,
    },
    found,
  };
}
