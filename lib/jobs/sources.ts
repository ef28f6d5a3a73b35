import { createHash } from "node:crypto";
import type { InputRule } from "../catalog/catalog.ts";
import { normalizeMask } from "../images/mask.ts";
import {
  ImageInputError,
  type InputProblem,
  type NormalizedImage,
  normalizeImage,
} from "../images/normalize.ts";
import { outputKeyPattern, uploadIdPattern, uploadKey } from "../layout/keys.ts";
import { type AddressPolicy, OutboundRequestError, outboundRequest } from "../net/outbound.ts";
import { type DomainError, InvalidInput, TooLarge, Unavailable } from "./errors.ts";
import type { SourceImage } from "./inputs.ts";
import { type Job, jobIdPattern } from "./model.ts";
import { type ImageStorage, StorageError } from "./ports/storage.ts";

// Input images as requests give them (files, URLs, data URLs, base64, earlier jobs' outputs, upload_ids of
// POST /v1/uploads), turned into bytes the API can normalise, and the normalised PNGs stored where the worker
// will read them.

/** A file part of a multipart request. Its filename and content-type are claims; the bytes are sniffed. */
export class UploadedFile {
  readonly bytes: Buffer;
  readonly filename: string | undefined;
  constructor(bytes: Buffer, filename?: string) {
    this.bytes = bytes;
    this.filename = filename;
  }
}

export type ImageRef =
  | { kind: "upload"; bytes: Buffer }
  | { kind: "url"; url: string }
  | { kind: "base64"; data: string }
  | { kind: "job"; jobId: string; index: number }
  /** Bytes PUT to a presigned URL of POST /v1/uploads; as a string, or as {"upload_id"}. */
  | { kind: "upload_id"; uploadId: string };

const refHelp =
  'must be an image file, an http(s) URL, a data URL, base64 image data, an upload_id of POST /v1/uploads, or a previous job\'s output as {"job_id", "index"}';

/** What a request gave for one image, as a reference; a 400 naming `param` when it is none of the forms. */
export function imageRef(value: unknown, param: string): ImageRef {
  if (value instanceof UploadedFile) return { kind: "upload", bytes: value.bytes };
  const invalid = (detail = refHelp, code?: string) =>
    new InvalidInput(`Invalid '${param}': ${detail}.`, { param, code });
  if (typeof value === "string") {
    const text = value.trim();
    // Never valid base64 image data: 33 characters decode to 24 bytes, too few for any image.
    if (uploadIdPattern.test(text)) return { kind: "upload_id", uploadId: text };
    if (/^https?:\/\//i.test(text)) return { kind: "url", url: text };
    const data = /^data:([^,]*?);base64,/i.exec(text);
    if (data) return { kind: "base64", data: text.slice(data[0].length) };
    if (/^data:/i.test(text)) throw invalid("a data URL must be base64-encoded (data:image/png;base64,...)");
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text))
      throw invalid("a URL must use http or https", "url_not_allowed");
    if (text.length > 0) return { kind: "base64", data: text };
    throw invalid();
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const fields = value as Record<string, unknown>;
    const keys = Object.keys(fields);
    if (keys.length === 1 && typeof fields.image_url === "string") return imageRef(fields.image_url, param);
    if (keys.length === 1 && typeof fields.upload_id === "string") {
      if (!uploadIdPattern.test(fields.upload_id)) {
        throw invalid("'upload_id' must be an id from POST /v1/uploads (upload_ followed by 26 characters)");
      }
      return { kind: "upload_id", uploadId: fields.upload_id };
    }
    if (typeof fields.job_id === "string" && keys.every((k) => k === "job_id" || k === "index")) {
      const index = fields.index ?? 0;
      if (typeof index !== "number" || !Number.isInteger(index) || index < 0) {
        throw invalid("'index' must be a non-negative integer");
      }
      return { kind: "job", jobId: fields.job_id, index };
    }
  }
  throw invalid();
}

/** A bad image, as the API reports it: which parameter, and what is wrong with it. */
export function imageInputError(err: ImageInputError, param: string, noun = "image"): DomainError {
  const codes: Record<InputProblem, string> = {
    format: "invalid_image_format",
    corrupt: "invalid_image",
    pixels: "image_too_large",
    too_detailed: "image_too_large",
    mask_size: "invalid_mask",
    mask_empty: "invalid_mask",
  };
  return new InvalidInput(`Invalid '${param}': the ${noun} ${err.message}.`, {
    param,
    code: codes[err.problem],
    cause: err,
  });
}

export interface SourceOptions {
  /** Per image, however it arrives. */
  maxBytes: number;
  fetchTimeoutMs: number;
  /** ALLOW_PRIVATE_URLS. */
  allowPrivate: AddressPolicy;
}

export interface LoadedImage {
  bytes: Buffer;
  fromJob?: { job_id: string; index: number };
}

export class ImageSources {
  readonly #findJob: (tenant: string, id: string) => Promise<Job | undefined>;
  readonly #images: ImageStorage;
  readonly #options: SourceOptions;

  constructor(
    findJob: (tenant: string, id: string) => Promise<Job | undefined>,
    images: ImageStorage,
    options: SourceOptions,
  ) {
    this.#findJob = findJob;
    this.#images = images;
    this.#options = options;
  }

  /** The bytes of one referenced image, within the byte cap; every failure a 4xx naming `param`. */
  async load(ref: ImageRef, param: string, tenant: string): Promise<LoadedImage> {
    switch (ref.kind) {
      case "upload":
        return { bytes: this.#capped(ref.bytes, param) };
      case "base64":
        return { bytes: this.#decode(ref.data, param) };
      case "job":
        return this.#fromJob(tenant, ref.jobId, ref.index, param);
      case "upload_id":
        return this.#fromUpload(tenant, ref.uploadId, param);
      case "url": {
        // A URL of this tenant's own job output is read from S3: no public URL, no ALLOW_PRIVATE_URLS.
        const own = ownOutput(ref.url, tenant);
        return own ? this.#fromJob(tenant, own.jobId, own.index, param) : this.#fetch(ref.url, param);
      }
    }
  }

  /**
   * Stores a normalised input under `key` (written before the job is recorded). A store that is down or
   * throttling is a 503 worth retrying; one that refuses the object for good is not: a 413 when it is too large
   * (the same bytes would be refused again), a 500 for any other refusal (a fault of the deployment).
   */
  async put(key: string, png: Buffer, loaded: LoadedImage, size: { width: number; height: number }) {
    const sha256 = createHash("sha256").update(png).digest("hex");
    try {
      await this.#images.put(key, png, "png", sha256);
    } catch (err) {
      if (!(err instanceof StorageError)) throw err;
      if (err.failure === "too_large") {
        throw new TooLarge(
          `The input image, normalised to a ${size.width}x${size.height} PNG of ${formatBytes(png.length)}, is larger than the image store accepts; send a smaller image.`,
          { code: "image_too_large", cause: err },
        );
      }
      if (err.retryable) {
        throw new Unavailable("Could not store the input images. Please retry.", { cause: err });
      }
      throw err;
    }
    const source: SourceImage = {
      key,
      width: size.width,
      height: size.height,
      bytes: png.length,
      sha256,
      ...(loaded.fromJob && { from_job: loaded.fromJob }),
    };
    return source;
  }

  /** A size a client announces (POST /v1/uploads `bytes`): a 413 naming `param` when over the per-image cap. */
  checkSize(bytes: number, param: string): void {
    if (bytes > this.#options.maxBytes) throw this.#tooLarge(param);
  }

  #tooLarge(param: string): TooLarge {
    return new TooLarge(
      `Invalid '${param}': the image is larger than the ${formatBytes(this.#options.maxBytes)} limit.`,
      { param },
    );
  }

  #capped(bytes: Buffer, param: string): Buffer {
    if (bytes.length > this.#options.maxBytes) throw this.#tooLarge(param);
    if (bytes.length === 0) throw new InvalidInput(`Invalid '${param}': the image is empty.`, { param });
    return bytes;
  }

  #decode(data: string, param: string): Buffer {
    const compact = data.replace(/\s+/g, "");
    // Refuse by length before decoding: base64 is 4 characters per 3 bytes.
    if (Math.floor((compact.length * 3) / 4) > this.#options.maxBytes + 2) throw this.#tooLarge(param);
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(compact)) {
      throw new InvalidInput(`Invalid '${param}': ${refHelp}.`, { param });
    }
    // Node's decoder reads both the standard and the URL-safe alphabet.
    return this.#capped(Buffer.from(compact, "base64"), param);
  }

  async #fromJob(tenant: string, jobId: string, index: number, param: string): Promise<LoadedImage> {
    // Another tenant's job is as absent as one that never existed.
    const job = jobIdPattern.test(jobId) ? await this.#findJob(tenant, jobId) : undefined;
    if (!job) {
      throw new InvalidInput(`Invalid '${param}': no job '${jobId}' was found.`, {
        param,
        code: "job_not_found",
      });
    }
    const image = job.status === "succeeded" ? job.output?.images[index] : undefined;
    if (!image) {
      const why =
        job.status === "succeeded"
          ? `has ${job.output?.images.length ?? 0} output image(s); index ${index} is not one of them`
          : `is ${job.status}; only a succeeded job's outputs can be used`;
      throw new InvalidInput(`Invalid '${param}': job '${jobId}' ${why}.`, {
        param,
        code: "invalid_image_reference",
      });
    }
    const bytes = await this.#read(
      image.key,
      () =>
        new InvalidInput(
          `Invalid '${param}': job '${jobId}' output ${index} is no longer stored (outputs expire under the deployment's retention).`,
          { param, code: "invalid_image_reference" },
        ),
    );
    return { bytes, fromJob: { job_id: jobId, index } };
  }

  /** An upload's object lives under its tenant's prefix: another tenant's upload_id finds nothing. */
  async #fromUpload(tenant: string, uploadId: string, param: string): Promise<LoadedImage> {
    const bytes = await this.#read(
      uploadKey(tenant, uploadId),
      () =>
        new InvalidInput(
          `Invalid '${param}': no upload '${uploadId}' was found. PUT the image to the upload's URL first; an upload can be used for a day.`,
          { param, code: "upload_not_found" },
        ),
    );
    return { bytes: this.#capped(bytes, param) };
  }

  /** An object of the bucket; `missing` says what its absence means to the client. */
  async #read(key: string, missing: () => DomainError): Promise<Buffer> {
    try {
      return await this.#images.get(key);
    } catch (err) {
      if (!(err instanceof StorageError)) throw err;
      if (err.failure === "not_found") throw missing();
      if (err.retryable) {
        throw new Unavailable("Could not read an input image. Please retry.", { cause: err });
      }
      throw err;
    }
  }

  async #fetch(url: string, param: string): Promise<LoadedImage> {
    let res: Awaited<ReturnType<typeof outboundRequest>>;
    try {
      res = await outboundRequest(url, {
        timeoutMs: this.#options.fetchTimeoutMs,
        maxBytes: this.#options.maxBytes,
        maxRedirects: 3,
        allowPrivate: this.#options.allowPrivate,
        headers: { accept: "image/png,image/jpeg,image/webp,image/gif,image/avif;q=0.9,*/*;q=0.5" },
      });
    } catch (err) {
      if (!(err instanceof OutboundRequestError)) throw err;
      if (err.failure === "too_large") throw this.#tooLarge(param);
      // A URL refused by its scheme or credentials (after a redirect too) is as refused as a private one.
      const codes: Record<string, string> = {
        blocked: "url_not_allowed",
        scheme: "url_not_allowed",
        timeout: "image_fetch_timeout",
      };
      throw new InvalidInput(`Invalid '${param}': the URL ${err.message}.`, {
        param,
        code: codes[err.failure] ?? "image_fetch_failed",
        cause: err,
      });
    }
    if (res.status < 200 || res.status >= 300) {
      throw new InvalidInput(`Invalid '${param}': fetching the URL gave HTTP ${res.status}.`, {
        param,
        code: "image_fetch_failed",
      });
    }
    return { bytes: this.#capped(res.body, param) };
  }
}

/** The job and output index a URL of this tenant's own output points to, if it is one. */
export function ownOutput(raw: string, tenant: string): { jobId: string; index: number } | undefined {
  let path: string;
  try {
    path = decodeURIComponent(new URL(raw).pathname);
  } catch {
    return undefined;
  }
  const m = outputKeyPattern.exec(path);
  if (!m || m[1] !== tenant) return undefined;
  return { jobId: m[2] as string, index: Number(m[3]) };
}

function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${Math.round((n / 1024 / 1024) * 10) / 10} MB` : `${Math.round(n / 1024)} KB`;
}

export interface StagedImage {
  image: NormalizedImage;
  loaded: LoadedImage;
}

/** Loads and normalises one input image for `rule`; bad images become 4xx errors naming `param`. */
export async function stageImage(
  sources: ImageSources,
  ref: ImageRef,
  param: string,
  tenant: string,
  rule: InputRule,
): Promise<StagedImage> {
  const loaded = await sources.load(ref, param, tenant);
  try {
    return { image: await normalizeImage(loaded.bytes, rule), loaded };
  } catch (err) {
    if (err instanceof ImageInputError) throw imageInputError(err, param);
    throw err;
  }
}

/** Loads a mask and conforms it to its (staged) image. */
export async function stageMask(
  sources: ImageSources,
  ref: ImageRef,
  param: string,
  tenant: string,
  image: NormalizedImage,
  rule: InputRule,
): Promise<Buffer> {
  const loaded = await sources.load(ref, param, tenant);
  try {
    return await normalizeMask(loaded.bytes, image, rule);
  } catch (err) {
    if (err instanceof ImageInputError) throw imageInputError(err, param, "mask");
    throw err;
  }
}
