import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { webDist } from "../../infra/web.ts";
import { type SandboxProcess, startSandboxProcess } from "../support/sandbox-process.ts";

// Issue 13, item 9: the README's commands run as written against `npm start`, the banner links only to what
// answers, and the README's figures match a build. Issue 17: the guides moved to docs/, and their examples run too.

const root = new URL("../../", import.meta.url).pathname;
/** The README and every guide in docs/, each with its own examples and variables. */
const pages = [
  "README.md",
  ...readdirSync(join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
].map((page) => ({ page, text: readFileSync(join(root, page), "utf8") }));
const readme = pages[0]?.text ?? "";
/** Where the README's examples point: the sandbox's default address, replaced by the test sandbox's. */
const documentedBase = "http://127.0.0.1:3000";

interface Example {
  page: string;
  line: number;
  command: string;
  /** The shell variables assigned in the page before this command, by name. */
  assigned: Map<string, string>;
}

/**
 * Every `curl` of a page, in order: the commands of its bash/sh blocks (continuation lines joined) and the
 * inline `curl …` spans of its prose, each with the variables the page assigned before it.
 */
function curlExamples({ page, text }: { page: string; text: string }): Example[] {
  const examples: Example[] = [];
  const assigned = new Map<string, string>();
  const lines = text.split("\n");
  let shell = false;
  let fenced = false;
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i] as string;
    if (line.startsWith("```")) {
      fenced = !fenced;
      shell = fenced && /^```(bash|sh)\s*$/.test(line);
      continue;
    }
    if (shell) {
      const start = i;
      while (line.endsWith("\\") && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i]}`;
      const code = line.replace(/\s+#.*$/, "");
      // Assignments, alone or chained with `;` (BASE=…; API=$BASE/v1).
      for (const part of code.split(";")) {
        const m = /^\s*([A-Z_]+)=(\$\([^)]*\)|\S+)\s*$/.exec(part);
        if (m?.[1] && m[2]) assigned.set(m[1], m[2]);
      }
      if (/^\s*curl /.test(code))
        examples.push({ page, line: start + 1, command: code.trim(), assigned: new Map(assigned) });
    } else if (!fenced) {
      for (const m of line.matchAll(/`(curl [^`]+)`/g))
        examples.push({ page, line: i + 1, command: m[1] as string, assigned: new Map(assigned) });
    }
  }
  return examples;
}

/** Shell words, with single and double quotes removed. */
function words(command: string): string[] {
  return [...command.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? "");
}

/** `$NAME` and `${NAME}` replaced by `value(NAME)`, repeatedly (API=$BASE/v1). */
function expand(text: string, value: (name: string) => string | undefined): string {
  let out = text;
  for (let depth = 0; depth < 5 && /\$\{?[A-Z_]+/.test(out); depth++) {
    out = out.replace(/\$\{?([A-Z_]+)\}?/g, (all, name: string) => value(name) ?? all);
  }
  return out;
}

const allExamples = () => pages.flatMap(curlExamples);

describe("the commands of the README and the guides, and the banner, against npm start", () => {
  let sandbox: SandboxProcess;
  beforeAll(async () => {
    sandbox = await startSandboxProcess();
  });
  afterAll(async () => {
    await sandbox?.stop();
  });

  it("defines every variable a curl example uses before that example, in the same page", () => {
    const examples = allExamples();
    expect(examples.length).toBeGreaterThan(10);
    // The README keeps its own examples: the SDK's and curl's first steps.
    expect(examples.filter((e) => e.page === "README.md").length).toBeGreaterThanOrEqual(3);
    const undefinedUses = examples.flatMap(({ page, line, command, assigned }) =>
      [...command.matchAll(/\$\{?([A-Z_]+)/g)]
        .map((m) => m[1] as string)
        .filter((name) => !assigned.has(name))
        .map((name) => `${page}:${line}: $${name} in ${command.slice(0, 60)}`),
    );
    expect(undefinedUses).toEqual([]);
  });

  it("sends every curl example to a route the API has, with a key it accepts there", async () => {
    const keys: Record<string, string> = { KEY: sandbox.key, ADMIN: sandbox.adminKey };
    const failures: string[] = [];
    for (const { page, line, command, assigned } of allExamples()) {
      const value = (name: string) =>
        keys[name] ?? assigned.get(name)?.replace(documentedBase, sandbox.url.replace(/\/$/, ""));
      const args = words(expand(command, value)).slice(1);
      const target = args.find((a) => /^https?:\/\//.test(a));
      // A deployed stack's address (<ApiUrl>) cannot be tried here.
      if (!target) continue;
      const url = new URL(target.replace(documentedBase, sandbox.url));
      const flag = (name: string) => args.flatMap((a, i) => (a === name ? [args[i + 1] ?? ""] : []));
      const method =
        flag("-X")[0] ??
        (args.some((a) => ["-d", "-F", "--data", "--data-binary"].includes(a)) ? "POST" : "GET");
      const auth = flag("-H").find((h) => /^authorization:/i.test(h));
      // No body: a route that exists answers 400 for it, never 404 `unknown_url`.
      const res = await fetch(url, {
        method,
        headers: auth ? { authorization: auth.replace(/^authorization:\s*/i, "") } : {},
      });
      const body = (await res.json().catch(() => ({}))) as { error?: { code?: string } };
      if (body.error?.code === "unknown_url" || res.status === 401 || res.status === 403) {
        failures.push(`${page}:${line}: ${method} ${url.pathname} → ${res.status} ${body.error?.code ?? ""}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it("prints only links that answer: the playground, the API, the emulators and a command that works", async () => {
    const banner = sandbox.output().slice(0, sandbox.output().indexOf("Try:") + 400);
    const urls = [...banner.matchAll(/https?:\/\/[^\s)"',]+/g)].map((m) => m[0]);
    const base = sandbox.url;
    expect(urls).toEqual([
      `${base}/`,
      `${base}/v1`,
      sandbox.awsEndpoint,
      sandbox.dynamoEndpoint,
      `${base}/v1/images/generations`,
    ]);
    const page = await fetch(`${base}/`);
    expect([page.status, page.headers.get("content-type")]).toEqual([200, "text/html; charset=utf-8"]);
    const auth = { authorization: `Bearer ${sandbox.key}` };
    expect((await fetch(`${base}/v1/models`, { headers: auth })).status).toBe(200);
    // The banner's "Try" command, as printed.
    const tried = await fetch(`${base}/v1/images/generations`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: /-d '([^']+)'/.exec(banner)?.[1] ?? "",
    });
    expect(tried.status).toBe(200);
    expect(((await tried.json()) as { data: unknown[] }).data).toHaveLength(2);
  });
});

describe("the playground's size in the README and the guides", () => {
  it("gives the playground's size as a build makes it", () => {
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true })
        .filter((e) => !e.name.startsWith("."))
        .flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
    const built = files(webDist);
    const kib = (bytes: number) => Math.round(bytes / 1024);
    const size = kib(built.reduce((sum, f) => sum + statSync(f).size, 0));
    const gzipped = kib(built.reduce((sum, f) => sum + gzipSync(readFileSync(f)).length, 0));
    expect(
      /The page is a (\d+) KiB static bundle \((\d+) KiB gzipped\)/.exec(readme)?.slice(1).map(Number),
    ).toEqual([size, gzipped]);
    const guides = pages.map((p) => p.text).join("\n");
    expect(Number(/The playground \((\d+) KiB\)/.exec(guides)?.[1])).toBe(size);
  });
});
