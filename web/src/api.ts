// The public API, as the playground uses it: the key from localStorage as a Bearer token, JSON both ways,
// OpenAI's error envelope turned into an ApiError the forms can show.

const keyStorage = "image-jobs.api-key";

export const savedKey = (): string => localStorage.getItem(keyStorage) ?? "";
export const saveKey = (key: string): void => localStorage.setItem(keyStorage, key);
export const forgetKey = (): void => localStorage.removeItem(keyStorage);

export class ApiError extends Error {
  override name = "ApiError";
  readonly status: number;
  readonly param: string | null;
  readonly code: string | null;
  constructor(status: number, message: string, param: string | null = null, code: string | null = null) {
    super(message);
    this.status = status;
    this.param = param;
    this.code = code;
  }
}

/** What sizes a model takes, as GET /v1/models describes it. */
export type SizeRule =
  | { kind: "list"; values: string[] }
  | { kind: "aspect"; ratios: { ratio: string; size: string }[] }
  | {
      kind: "range";
      multipleOf: number;
      minPixels: number;
      maxPixels: number;
      maxEdge: number;
      /** Longest side over shortest side. */
      maxAspect: number;
    };

export interface Model {
  id: string;
  default: boolean;
  stand_in?: boolean;
  operations: string[];
  sizes: SizeRule;
  qualities: string[];
  output_formats: string[];
  transparent_background: boolean;
  max_images_per_call: number;
}

export interface JobImage {
  index: number;
  url: string;
  width: number;
  height: number;
  format: string;
  bytes: number;
}

export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "canceled";

export interface Job {
  id: string;
  operation: string;
  status: JobStatus;
  model: string;
  notice?: string;
  input: { prompt?: string; n?: number; size?: string; partial_images?: number };
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  output: { images: JobImage[] } | null;
  error: { message: string; code: string; type: string } | null;
  /** What the job cost, where the service reports it. */
  cost_usd?: number | null;
}

export interface JobPage {
  data: Job[];
  has_more: boolean;
  next_cursor: string | null;
}

export const isTerminal = (s: JobStatus) => s === "succeeded" || s === "failed" || s === "canceled";

/** An input image as the API takes it: a data URL, or a previous job's output. */
export type ImageInput = string | { job_id: string; index: number };

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${savedKey()}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  } catch {
    throw new ApiError(0, "The service could not be reached. Is it running?");
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const err = (json as { error?: { message?: string; param?: string | null; code?: string | null } })
      ?.error;
    throw new ApiError(
      res.status,
      err?.message ?? `HTTP ${res.status} ${res.statusText}`,
      err?.param ?? null,
      err?.code ?? null,
    );
  }
  return json as T;
}

export const api = {
  models: () => request<{ data: Model[] }>("GET", "/v1/models").then((r) => r.data),
  submit: (operation: string, input: Record<string, unknown>) =>
    request<Job>("POST", "/v1/jobs", { operation, input }),
  job: (id: string) => request<Job>("GET", `/v1/jobs/${encodeURIComponent(id)}`),
  cancel: (id: string) => request<Job>("POST", `/v1/jobs/${encodeURIComponent(id)}/cancel`),
  /** A page of jobs; `status` filters, and must be given again with `after` (the cursor is bound to it). */
  jobs: (limit: number, after?: string, status?: JobStatus) => {
    const query = new URLSearchParams({ limit: String(limit) });
    if (status) query.set("status", status);
    if (after) query.set("after", after);
    return request<JobPage>("GET", `/v1/jobs?${query}`);
  },
};
