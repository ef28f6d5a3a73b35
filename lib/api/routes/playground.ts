import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import { NotFoundError } from "../../errors.ts";
import type { ApiResponse } from "../http.ts";
import type { Route } from "../router.ts";

// The playground: the static bundle Vite built from web/ (infra/web.ts), served at `/` by the API itself, so
// the sandbox and every deployment have it. Not part of the API: these routes are public and not documented.

export interface PlaygroundOptions {
  /** The built bundle: index.html and assets/. */
  dir: string;
  /** Where output images load from (presigned URLs): the S3 endpoint's origin. */
  imageOrigins: readonly string[];
}

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
};

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
}

/** Only what the bundle needs: its own scripts and styles, images from the bucket, and the API itself. */
export function contentSecurityPolicy(imageOrigins: readonly string[]): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data: blob: ${imageOrigins.join(" ")}`.trim(),
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

async function loadFile(path: string): Promise<StaticFile | undefined> {
  const type = contentTypes[extname(path)];
  if (!type) return undefined;
  const body = await readFile(path);
  return { body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"` };
}

/**
 * Reads the bundle once per process (a few tens of KiB). Files are looked up by exact name in what was read,
 * so a request path never reaches the file system. A missing build is retried on the next request.
 */
function bundleLoader(dir: string) {
  let loaded: Promise<{ index: StaticFile; assets: Map<string, StaticFile> }> | undefined;
  const load = async () => {
    const index = await loadFile(join(dir, "index.html")).catch(() => undefined);
    if (!index) {
      throw new NotFoundError(
        "The playground is not built. `npm start` builds it; or run `npm run build:web`.",
        { code: "playground_not_built" },
      );
    }
    const assets = new Map<string, StaticFile>();
    const names = await readdir(join(dir, "assets")).catch(() => [] as string[]);
    for (const name of names) {
      const file = await loadFile(join(dir, "assets", name));
      if (file) assets.set(name, file);
    }
    return { index, assets };
  };
  return () => {
    loaded ??= load().catch((err: unknown) => {
      loaded = undefined;
      throw err;
    });
    return loaded;
  };
}

export function playgroundRoutes(options: PlaygroundOptions): Route[] {
  const bundle = bundleLoader(options.dir);
  const security = {
    "content-security-policy": contentSecurityPolicy(options.imageOrigins),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
  };
  const serve = (file: StaticFile, cacheControl: string, ifNoneMatch: string | undefined): ApiResponse => {
    const headers = { ...security, "cache-control": cacheControl, etag: file.etag };
    if (ifNoneMatch?.split(/\s*,\s*/).includes(file.etag)) return { status: 304, headers };
    return { status: 200, body: file.body, headers: { ...headers, "content-type": file.type } };
  };
  return [
    {
      method: "GET",
      path: "/",
      public: true,
      doc: { excluded: "the playground page, not part of the API" },
      // Revalidated on every load, so a deploy's new asset names are picked up at once.
      handle: async (ctx) => serve((await bundle()).index, "no-cache", ctx.req.headers["if-none-match"]),
    },
    {
      method: "GET",
      path: "/assets/{file}",
      public: true,
      doc: { excluded: "the playground's static files" },
      handle: async (ctx) => {
        const name = ctx.params.file ?? "";
        const file = (await bundle()).assets.get(name);
        if (!file) throw new NotFoundError(`No playground asset '${name}'.`, { code: "unknown_url" });
        // Vite puts a content hash in every asset name: a changed file is a new URL.
        return serve(file, "public, max-age=31536000, immutable", ctx.req.headers["if-none-match"]);
      },
    },
  ];
}
