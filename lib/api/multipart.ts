import { InvalidRequestError } from "../errors.ts";

// multipart/form-data (RFC 7578) over a body that is already in memory, as Lambda hands it over. Small on
// purpose: it finds parts, reads their Content-Disposition and Content-Type, and refuses anything malformed
// with a 400 instead of guessing. Size is already capped by the request limit; counts are capped here.

export interface Part {
  name: string;
  /** Present for file parts. A claim by the client, never trusted for the type. */
  filename?: string | undefined;
  contentType?: string | undefined;
  data: Buffer;
}

export interface MultipartLimits {
  maxParts: number;
  /** Per part, for its header block. */
  maxHeaderBytes: number;
}

const defaults: MultipartLimits = { maxParts: 64, maxHeaderBytes: 8 * 1024 };

const CRLF = Buffer.from("\r\n");
const HEADER_END = Buffer.from("\r\n\r\n");

const bad = (detail: string) =>
  new InvalidRequestError(`The multipart body is malformed: ${detail}.`, { code: "invalid_multipart" });

/** The boundary of a `multipart/form-data` content-type, or a 400. */
export function boundaryOf(contentType: string): string {
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))\s*(?:;|$)/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) throw bad("the Content-Type has no boundary");
  return boundary;
}

/** Parses the parameters of a header value such as `form-data; name="image[]"; filename="a.png"`. */
export function headerParams(value: string): Record<string, string> {
  const params: Record<string, string> = {};
  const re = /;\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/g;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    const key = (m[1] as string).toLowerCase();
    const raw = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : (m[3] ?? "");
    params[key] = key.endsWith("*") ? decodeExtended(raw) : decodeFormEscapes(raw);
  }
  return params;
}

/** Browsers and the openai SDK escape `"`, CR and LF in names as %22, %0D, %0A; nothing else is decoded. */
function decodeFormEscapes(value: string): string {
  return value.replace(/%(22|0D|0A)/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/** RFC 8187 `filename*=UTF-8''…`. */
function decodeExtended(value: string): string {
  const m = /^[\w-]*'[\w-]*'(.*)$/.exec(value);
  try {
    return decodeURIComponent(m?.[1] ?? value);
  } catch {
    return value;
  }
}

/** Splits a multipart/form-data body into parts. Truncated, unterminated or malformed bodies are 400s. */
export function parseMultipart(body: Buffer, contentType: string, limits = defaults): Part[] {
  const boundary = boundaryOf(contentType);
  const delimiter = Buffer.from(`--${boundary}`);
  // The first delimiter starts the body or follows a preamble line.
  let at = body.subarray(0, delimiter.length).equals(delimiter)
    ? 0
    : body.indexOf(Buffer.concat([CRLF, delimiter]));
  if (at < 0) throw bad("no part starts with the boundary");
  if (at > 0) at += CRLF.length;
  const next = Buffer.concat([CRLF, delimiter]);
  const parts: Part[] = [];
  for (;;) {
    let p = at + delimiter.length;
    if (body[p] === 0x2d && body[p + 1] === 0x2d) return parts; // "--": the close delimiter; the epilogue is ignored
    while (body[p] === 0x20 || body[p] === 0x09) p++; // transport padding
    if (body[p] !== 0x0d || body[p + 1] !== 0x0a) {
      throw bad(
        p >= body.length
          ? "it ends without the closing boundary (truncated?)"
          : "a boundary line has trailing bytes",
      );
    }
    p += CRLF.length;
    if (parts.length >= limits.maxParts) throw bad(`more than ${limits.maxParts} parts`);
    const headerEnd = body.indexOf(HEADER_END, p);
    if (headerEnd < 0 || headerEnd - p > limits.maxHeaderBytes) {
      throw bad(headerEnd < 0 ? "a part's headers never end (truncated?)" : "a part's headers are too long");
    }
    const headers = parseHeaders(body.subarray(p, headerEnd).toString("latin1"));
    const dataStart = headerEnd + HEADER_END.length;
    const end = body.indexOf(next, dataStart);
    if (end < 0) throw bad("it ends inside a part, without the closing boundary (truncated?)");
    parts.push({ ...headers, data: body.subarray(dataStart, end) });
    at = end + CRLF.length;
  }
}

function parseHeaders(block: string): Omit<Part, "data"> {
  let disposition: string | undefined;
  let contentType: string | undefined;
  for (const line of block.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw bad(`a part has a header line without a name ("${line.slice(0, 40)}")`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "content-disposition") disposition = value;
    else if (name === "content-type") contentType = value;
  }
  if (!disposition || !/^form-data\s*(;|$)/i.test(disposition)) {
    throw bad("a part has no 'Content-Disposition: form-data' header");
  }
  const params = headerParams(disposition);
  // Header bytes are read as latin1 so no byte is lost; names and filenames are UTF-8 on the wire.
  const utf8 = (s: string) => Buffer.from(s, "latin1").toString("utf8");
  const name = params.name === undefined ? undefined : utf8(params.name);
  if (!name) throw bad("a part has no name");
  const filename = params["filename*"] ?? (params.filename === undefined ? undefined : utf8(params.filename));
  return { name, ...(filename !== undefined && { filename }), ...(contentType && { contentType }) };
}
