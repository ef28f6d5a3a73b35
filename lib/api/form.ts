import { InvalidRequestError, UnsupportedMediaTypeError } from "../errors.ts";
import { sniffFormat } from "../images/types.ts";
import { UploadedFile } from "../jobs/sources.ts";
import { type ApiRequest, jsonBody } from "./http.ts";
import { type Part, parseMultipart } from "./multipart.ts";

// Request bodies that may be JSON or multipart, as OpenAI's image endpoints take them. Multipart becomes the
// same object JSON would give, so one schema validates both: scalars arrive as strings and are read as the
// numbers and booleans they stand for; image fields become uploaded files.

export interface FormShape {
  /** Fields that carry images. `image` and `image[]` (repeated) both land in `image`. */
  files: readonly string[];
  numbers: readonly string[];
  booleans: readonly string[];
  /** Free text, kept as sent. Any other empty or "null" field is null ("not given"), as JSON's null is. */
  texts?: readonly string[];
}

const contentTypeOf = (req: ApiRequest) =>
  (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";

export const isMultipart = (req: ApiRequest) => contentTypeOf(req) === "multipart/form-data";

/** A JSON or multipart/form-data body, as a plain object for the request schema. */
export function formBody(req: ApiRequest, shape: FormShape): Record<string, unknown> {
  const type = contentTypeOf(req);
  if (isMultipart(req)) {
    return formObject(parseMultipart(req.body, req.headers["content-type"] ?? ""), shape);
  }
  if (type === "application/json" || type.endsWith("+json")) return jsonBody(req);
  throw new UnsupportedMediaTypeError(
    `Expected Content-Type: multipart/form-data or application/json${type ? `, got '${type}'` : ""}.`,
  );
}

export function formObject(parts: readonly Part[], shape: FormShape): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const files = new Map<string, unknown[]>();
  for (const part of parts) {
    const field = part.name.endsWith("[]") ? part.name.slice(0, -2) : part.name;
    if (shape.files.includes(field)) {
      const list = files.get(field) ?? [];
      list.push(fileValue(part));
      files.set(field, list);
      continue;
    }
    if (part.name.endsWith("[]")) {
      throw new InvalidRequestError(`'${part.name}' cannot be repeated.`, { param: field });
    }
    if (field in out) throw new InvalidRequestError(`'${field}' was given more than once.`, { param: field });
    if (part.filename !== undefined) {
      throw new InvalidRequestError(`'${field}' must be a value, not a file.`, { param: field });
    }
    out[field] = scalar(field, part.data.toString("utf8"), shape);
  }
  for (const [field, list] of files) {
    // One `image` stays one value; `image[]` or a repeated `image` is a list.
    const repeated = list.length > 1 || parts.some((p) => p.name === `${field}[]`);
    out[field] = repeated ? list : list[0];
  }
  return out;
}

/** A file, or a URL / data URL / base64 string sent as a plain text field. */
function fileValue(part: Part): unknown {
  if (part.filename !== undefined || sniffFormat(part.data))
    return new UploadedFile(part.data, part.filename);
  return part.data.toString("utf8");
}

function scalar(field: string, text: string, shape: FormShape): unknown {
  // Multipart has no null: openai-node sends the text "null" for one, and form encoders an empty value for None.
  if (!shape.texts?.includes(field) && (text === "" || text === "null")) return null;
  // Left as text when it is not the number or boolean it should be, so validation names the field.
  if (shape.numbers.includes(field) && /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text.trim())) {
    return Number(text.trim());
  }
  if (shape.booleans.includes(field) && /^(true|false)$/i.test(text.trim())) {
    return text.trim().toLowerCase() === "true";
  }
  return text;
}
