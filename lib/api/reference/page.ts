import { createHash } from "node:crypto";
import type { JsonSchema, OpenApiDocument, Operation } from "./document.ts";

// /docs: the OpenAPI document as one readable, self-contained HTML page. No script, no fonts, no CDN (the
// sandbox and its users may be offline); one inline stylesheet, allowed by its hash in the page's CSP.

const esc = (text: unknown) =>
  String(text).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );

const css = `
:root{color-scheme:light dark;--fg:#1b1f24;--bg:#fff;--muted:#57606a;--line:#d0d7de;--code:#f3f4f6;--link:#0550ae;
--get:#116329;--post:#0550ae;--delete:#a40e26}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#9da7b3;--line:#30363d;--code:#161b22;
--link:#79b8ff;--get:#56d364;--post:#79b8ff;--delete:#ff7b72}}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--link)}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:var(--bg);padding:.5rem}
header,main,nav{max-width:60rem;margin:0 auto;padding:0 1rem}
header{padding-top:1.5rem}
h1{font-size:1.6rem;margin:.5rem 0}h2{font-size:1.35rem;border-bottom:1px solid var(--line);margin-top:2.5rem}
h3{font-size:1.1rem;margin:0 0 .25rem;overflow-wrap:anywhere}h4{font-size:1rem;margin:1rem 0 .25rem}
nav ul{padding-left:1.2rem}nav li{margin:.15rem 0}
article{border:1px solid var(--line);border-radius:6px;padding:1rem;margin:1rem 0}
code,pre{font:.9em/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
code{background:var(--code);padding:.1em .3em;border-radius:4px;overflow-wrap:anywhere}
pre{background:var(--code);padding:.75rem;border-radius:6px;overflow-x:auto}pre code{padding:0;background:none}
.method{font-weight:700;font-family:ui-monospace,monospace;margin-right:.4rem}
.get{color:var(--get)}.post{color:var(--post)}.delete{color:var(--delete)}
.muted{color:var(--muted)}
.table{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.95rem}
th,td{text-align:left;vertical-align:top;padding:.35rem .5rem;border-bottom:1px solid var(--line)}
th{font-weight:600}td:first-child code{white-space:nowrap}
dl{margin:0}dt{font-weight:600;margin-top:.5rem}dd{margin-left:1rem}
details{margin:.5rem 0}summary{cursor:pointer;font-weight:600}
`;

/** The page's stylesheet as a CSP source, so no inline style but this one may apply. */
export const docsStyleSource = `'sha256-${createHash("sha256").update(css).digest("base64")}'`;

type Components = Record<string, JsonSchema>;

function resolve(schema: JsonSchema, components: Components): JsonSchema {
  const ref = schema.$ref;
  if (typeof ref !== "string") return schema;
  return components[ref.replace("#/components/schemas/", "")] ?? {};
}

function refName(schema: JsonSchema): string | undefined {
  return typeof schema.$ref === "string" ? schema.$ref.replace("#/components/schemas/", "") : undefined;
}

/** A schema's type, briefly: `string`, `"png" | "jpeg"`, `array of integer`, `Job`. */
function typeOf(schema: JsonSchema): string {
  const name = refName(schema);
  if (name) return name;
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  const alternatives = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (alternatives) return alternatives.map(typeOf).join(" or ");
  if (schema.type === "array") return `array of ${typeOf((schema.items ?? {}) as JsonSchema)}`;
  if (schema.format === "binary") return "file";
  if (Array.isArray(schema.type)) return schema.type.join(" or ");
  if (typeof schema.type === "string") return schema.type;
  return "any";
}

function constraints(schema: JsonSchema): string {
  const out: string[] = [];
  const say = (key: string, label: string) => {
    if (schema[key] !== undefined) out.push(`${label} ${schema[key]}`);
  };
  say("minimum", "≥");
  say("maximum", "≤");
  say("minLength", "length ≥");
  say("maxLength", "length ≤");
  say("minItems", "items ≥");
  say("maxItems", "items ≤");
  if (typeof schema.format === "string" && schema.format !== "binary") out.push(schema.format);
  else if (typeof schema.pattern === "string" && schema.pattern.length <= 40)
    out.push(`matches ${schema.pattern}`);
  if (schema.default !== undefined) out.push(`default ${JSON.stringify(schema.default)}`);
  return out.join(", ");
}

interface Field {
  name: string;
  schema: JsonSchema;
  required: boolean;
}

/** An object's fields, nested objects as dotted names (a few levels deep); anything else as itself. */
function fields(schema: JsonSchema, components: Components, prefix = "", depth = 0): Field[] {
  const s = resolve(schema, components);
  const props = s.properties as Record<string, JsonSchema> | undefined;
  if (!props) return [];
  const required = new Set((s.required as string[] | undefined) ?? []);
  const out: Field[] = [];
  for (const [name, raw] of Object.entries(props)) {
    const full = `${prefix}${name}`;
    out.push({ name: full, schema: raw, required: required.has(name) });
    const inner = (raw.anyOf as JsonSchema[] | undefined)?.find((a) => a.type === "object") ?? raw;
    if (depth < 2 && !refName(inner) && inner.properties) {
      out.push(...fields(inner, components, `${full}.`, depth + 1));
    }
  }
  return out;
}

function fieldTable(list: Field[], caption: string): string {
  if (list.length === 0) return "";
  const rows = list
    .map(
      (f) =>
        `<tr><td><code>${esc(f.name)}</code>${f.required ? ' <span class="muted">required</span>' : ""}</td><td>${esc(typeOf(f.schema))}</td><td>${esc(
          [f.schema.description, constraints(f.schema)].filter(Boolean).join(". "),
        )}</td></tr>`,
    )
    .join("");
  return `<div class="table" tabindex="0" role="region" aria-label="${esc(caption)}"><table><caption class="muted">${esc(caption)}</caption><thead><tr><th scope="col">Field</th><th scope="col">Type</th><th scope="col">Notes</th></tr></thead><tbody>${rows}</tbody></table></div>`;
}

function parametersTable(params: JsonSchema[]): string {
  if (params.length === 0) return "";
  const rows = params
    .map(
      (p) =>
        `<tr><td><code>${esc(p.name)}</code>${p.required ? ' <span class="muted">required</span>' : ""}</td><td>${esc(p.in)}</td><td>${esc(typeOf((p.schema ?? {}) as JsonSchema))}</td><td>${esc(
          [p.description, constraints((p.schema ?? {}) as JsonSchema)].filter(Boolean).join(". "),
        )}</td></tr>`,
    )
    .join("");
  return `<h4>Parameters</h4><div class="table" tabindex="0" role="region" aria-label="Parameters"><table><thead><tr><th scope="col">Name</th><th scope="col">In</th><th scope="col">Type</th><th scope="col">Notes</th></tr></thead><tbody>${rows}</tbody></table></div>`;
}

/** A curl command for the operation: its example as JSON, or as multipart with files where it takes them. */
function curl(method: string, path: string, op: Operation, example: unknown, form?: JsonSchema): string {
  const auth =
    Array.isArray(op.security) && op.security.length === 0
      ? ""
      : op.security
        ? ' \\\n  -H "Authorization: Bearer $ADMIN_API_KEY"'
        : ' \\\n  -H "Authorization: Bearer $IMAGE_JOBS_API_KEY"';
  const verb = method === "get" ? "" : ` -X ${method.toUpperCase()}`;
  const quote = (text: string) => `'${text.replace(/'/g, "'\\''")}'`;
  const first = (form?.anyOf as JsonSchema[] | undefined)?.[0] ?? form;
  const props = (first?.properties ?? {}) as Record<string, JsonSchema>;
  const isFile = (name: string) => JSON.stringify(props[name] ?? {}).includes('"binary"');
  let body = "";
  if (example !== undefined && form) {
    body = Object.entries(example as Record<string, unknown>)
      .map(
        ([k, v]) =>
          ` \\\n  -F ${quote(`${k}=${isFile(k) ? "@image.png" : typeof v === "string" ? v : JSON.stringify(v)}`)}`,
      )
      .join("");
  } else if (example !== undefined) {
    body = ` \\\n  -H "Content-Type: application/json" \\\n  -d ${quote(JSON.stringify(example))}`;
  }
  return `curl${verb} "$BASE_URL${path}"${auth}${body}`;
}

function operationSection(path: string, method: string, op: Operation, doc: OpenApiDocument): string {
  const components = doc.components.schemas;
  const shared = (doc.components.responses ?? {}) as Record<string, JsonSchema>;
  const id = `op-${op.operationId}`;
  const params = (op.parameters ?? []) as JsonSchema[];
  const body = op.requestBody as
    | { content: Record<string, { schema: JsonSchema; example?: unknown }> }
    | undefined;
  const json = body?.content["application/json"];
  const security = Array.isArray(op.security)
    ? op.security.length === 0
      ? "None: this route is public."
      : "The admin key (Authorization: Bearer)."
    : "An API key: Authorization: Bearer, or X-API-Key.";
  let bodyHtml = "";
  if (body && json) {
    const types = Object.keys(body.content)
      .map((t) => `<code>${esc(t)}</code>`)
      .join(" or ");
    const schema = resolve(json.schema, components);
    const alternatives = schema.anyOf as JsonSchema[] | undefined;
    bodyHtml = `<h4>Request body</h4><p>${types}${refName(json.schema) ? ` (schema <a href="#schema-${esc(refName(json.schema))}">${esc(refName(json.schema))}</a>)` : ""}.</p>${
      alternatives
        ? alternatives
            .map((a, i) => fieldTable(fields(a, components), `Form ${i + 1} of ${alternatives.length}`))
            .join("")
        : fieldTable(fields(schema, components), "Body fields")
    }`;
  }
  const responses = Object.entries(op.responses)
    .map(([status, res]) => {
      const r = typeof res.$ref === "string" ? shared[res.$ref.replace("#/components/responses/", "")] : res;
      const schema = (r?.content as Record<string, { schema: JsonSchema }> | undefined)?.["application/json"]
        ?.schema;
      const name = schema && refName(schema);
      const headers = r?.headers
        ? ` Headers: ${Object.keys(r.headers as object)
            .map((h) => `<code>${esc(h)}</code>`)
            .join(", ")}.`
        : "";
      return `<dt>${esc(status === "default" ? "Other errors" : status)}</dt><dd>${esc(r?.description ?? "")}${
        name ? ` <a href="#schema-${esc(name)}">${esc(name)}</a>.` : ""
      }${headers}</dd>`;
    })
    .join("");
  return `<article id="${esc(id)}" aria-labelledby="${esc(id)}-title">
<h3 id="${esc(id)}-title"><span class="method ${esc(method)}">${esc(method.toUpperCase())}</span><code>${esc(path)}</code></h3>
<p><strong>${esc(op.summary)}</strong> <span class="muted">(${esc(op.operationId)})</span></p>
${op.description ? `<p>${esc(op.description)}</p>` : ""}
<p><span class="muted">Authentication:</span> ${esc(security)}</p>
${parametersTable(params)}${bodyHtml}
<h4>Example</h4><pre><code>${esc(curl(method, path, op, json?.example, body?.content["multipart/form-data"]?.schema))}</code></pre>
<h4>Responses</h4><dl>${responses}</dl>
</article>`;
}

/** The reference page of `doc`. */
export function renderDocsPage(doc: OpenApiDocument): string {
  const info = doc.info as { title: string; version: string; summary?: string; description?: string };
  const tags = (doc.tags ?? []) as { name: string; description?: string }[];
  const components = doc.components.schemas;
  const byTag = new Map<string, [string, string, Operation][]>(tags.map((t) => [t.name, []]));
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) byTag.get(op.tags[0] ?? "")?.push([path, method, op]);
  }
  const nav = tags
    .map(
      (t) =>
        `<li><a href="#tag-${esc(t.name)}">${esc(t.name)}</a><ul>${(byTag.get(t.name) ?? [])
          .map(
            ([path, method, op]) =>
              `<li><a href="#op-${esc(op.operationId)}"><span class="method ${esc(method)}">${esc(method.toUpperCase())}</span>${esc(path)}</a></li>`,
          )
          .join("")}</ul></li>`,
    )
    .join("");
  const sections = tags
    .map(
      (t) =>
        `<section aria-labelledby="tag-${esc(t.name)}"><h2 id="tag-${esc(t.name)}">${esc(t.name)}</h2>${
          t.description ? `<p>${esc(t.description)}</p>` : ""
        }${(byTag.get(t.name) ?? []).map(([p, m, op]) => operationSection(p, m, op, doc)).join("\n")}</section>`,
    )
    .join("\n");
  const schemas = Object.entries(doc.components.schemas)
    .map(
      ([name, schema]) =>
        `<details id="schema-${esc(name)}"><summary>${esc(name)}</summary>${
          fieldTable(fields(schema, components), `${name} fields`) || `<p>${esc(typeOf(schema))}</p>`
        }</details>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(info.title)} API reference</title>
<style>${css}</style>
</head>
<body>
<a class="skip" href="#main">Skip to the reference</a>
<header>
<h1>${esc(info.title)} API reference <span class="muted">${esc(info.version)}</span></h1>
${info.summary ? `<p>${esc(info.summary)}</p>` : ""}${info.description ? `<p>${esc(info.description)}</p>` : ""}
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${esc(doc.openapi)}). Examples use <code>$BASE_URL</code> for this API's address.</p>
</header>
<nav aria-label="Operations"><h2>Operations</h2><ul>${nav}<li><a href="#schemas">Schemas</a></li></ul></nav>
<main id="main">
${sections}
<section aria-labelledby="schemas"><h2 id="schemas">Schemas</h2>
${schemas}
</section>
</main>
</body>
</html>
`;
}
