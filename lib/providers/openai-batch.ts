import OpenAI, { toFile } from "openai";
import {
  type BatchApi,
  type BatchRequest,
  type BatchResult,
  type BatchState,
  type BatchStatus,
  batchStatuses,
} from "../jobs/batch.ts";
import { ProviderError } from "../jobs/ports/provider.ts";
import { generateParams, toProviderError, usageOf } from "./openai.ts";

// OpenAI's Batch API for the batch lane (issue 16, §3): generations only (edits go through the normal queue), in a
// 24-hour window, at half the synchronous price. One JSONL file of /v1/images/generations requests per batch.

export interface OpenAIBatchOptions {
  apiKey: string;
  baseURL?: string | undefined;
  timeoutMs: number;
  maxRetries: number;
}

const endpoint = "/v1/images/generations";

export class OpenAIBatchApi implements BatchApi {
  readonly #client: OpenAI;
  readonly #apiKey: string;

  constructor(options: OpenAIBatchOptions, client?: OpenAI) {
    this.#apiKey = options.apiKey;
    this.#client =
      client ??
      new OpenAI({
        apiKey: options.apiKey,
        baseURL: options.baseURL ?? null,
        timeout: options.timeoutMs,
        maxRetries: options.maxRetries,
      });
  }

  async submit(
    requests: BatchRequest[],
    metadata: Record<string, string>,
  ): Promise<BatchState & { inputFileId: string }> {
    const jsonl = requests
      .map((r) =>
        JSON.stringify({
          custom_id: r.customId,
          method: "POST",
          url: endpoint,
          body: generateParams(r.call),
        }),
      )
      .join("\n");
    return this.#call(async () => {
      const file = await this.#client.files.create({
        file: await toFile(Buffer.from(`${jsonl}\n`), "requests.jsonl", { type: "application/jsonl" }),
        purpose: "batch",
      });
      const batch = await this.#client.batches.create({
        input_file_id: file.id,
        endpoint,
        completion_window: "24h",
        metadata,
      });
      return { ...stateOf(batch), inputFileId: file.id };
    });
  }

  retrieve(id: string): Promise<BatchState> {
    return this.#call(async () => stateOf(await this.#client.batches.retrieve(id)));
  }

  async cancel(id: string): Promise<void> {
    await this.#call(() => this.#client.batches.cancel(id));
  }

  results(fileId: string): Promise<BatchResult[]> {
    return this.#call(async () => {
      const text = await (await this.#client.files.content(fileId)).text();
      return text
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => resultOf(line, this.#apiKey));
    });
  }

  async #call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (err instanceof ProviderError) throw err;
      throw toProviderError(err, this.#apiKey);
    }
  }
}

function stateOf(batch: OpenAI.Batches.Batch): BatchState {
  const status = batchStatuses.includes(batch.status as BatchStatus)
    ? (batch.status as BatchStatus)
    : undefined;
  if (!status)
    throw new ProviderError(
      "bad_response",
      `The provider reported an unknown batch status '${batch.status}'.`,
    );
  return {
    id: batch.id,
    status,
    outputFileId: batch.output_file_id ?? undefined,
    errorFileId: batch.error_file_id ?? undefined,
    message: batch.errors?.data?.[0]?.message ?? undefined,
  };
}

interface OutputLine {
  custom_id?: unknown;
  response?: { status_code?: unknown; body?: unknown } | null;
  error?: { code?: unknown; message?: unknown } | null;
}

/** One output or error line (OpenAI's {id, custom_id, response:{status_code, body}, error}) as a result. */
function resultOf(line: string, apiKey: string): BatchResult {
  let parsed: OutputLine;
  try {
    parsed = JSON.parse(line) as OutputLine;
  } catch (cause) {
    throw new ProviderError("bad_response", "A line of the batch's output is not JSON.", { cause });
  }
  const customId = typeof parsed.custom_id === "string" ? parsed.custom_id : "";
  const status = typeof parsed.response?.status_code === "number" ? parsed.response.status_code : undefined;
  const body = parsed.response?.body as
    | OpenAI.Images.ImagesResponse
    | { error?: OutputLine["error"] }
    | undefined;
  if (status === 200 && body && "data" in body && Array.isArray(body.data)) {
    const images = body.data
      .filter((d) => typeof d.b64_json === "string")
      .map((d) => ({
        data: Buffer.from(d.b64_json as string, "base64"),
        revisedPrompt: d.revised_prompt ?? undefined,
      }));
    if (images.length === 0)
      return {
        customId,
        ok: false,
        error: new ProviderError("bad_response", "The provider returned no images."),
      };
    return {
      customId,
      ok: true,
      result: { images, usage: usageOf(body.usage), quality: body.quality ?? undefined },
    };
  }
  const error = (body && "error" in body ? body.error : undefined) ?? parsed.error ?? undefined;
  const code = typeof error?.code === "string" ? error.code : undefined;
  const message =
    typeof error?.message === "string"
      ? error.message
      : `The batch request failed (HTTP ${status ?? "none"}).`;
  // The same classification as a synchronous answer with this status and code.
  const apiError = OpenAI.APIError.generate(status, { error: { message, code } }, message, new Headers());
  return { customId, ok: false, error: toProviderError(apiError, apiKey) };
}
