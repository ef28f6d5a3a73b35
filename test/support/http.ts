import { contractAt } from "./contract.ts";

// biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted on, not trusted; tests index them freely.
export type Json = any;

export interface HttpResult {
  status: number;
  headers: Headers;
  body: Json;
  text: string;
}

/**
 * A tiny client for asserting on raw HTTP: status, headers and the parsed body. Every answer is checked against
 * the service's own /openapi.json first (test/support/contract.ts): one that breaks it throws.
 */
export function httpClient(baseUrl: string, key?: string) {
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        ...(key && { authorization: `Bearer ${key}` }),
        ...(body !== undefined && { "content-type": "application/json" }),
        ...headers,
      },
      ...(body !== undefined && { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    (await contractAt(baseUrl)).check({
      method,
      path: path.split("?")[0] as string,
      status: res.status,
      contentType: res.headers.get("content-type") ?? undefined,
      body: text,
    });
    let parsed: Json;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, body: parsed, text } satisfies HttpResult;
  };
  return {
    get: (path: string, headers?: Record<string, string>) => call("GET", path, undefined, headers),
    post: (path: string, body?: unknown, headers?: Record<string, string>) =>
      call("POST", path, body, headers),
    call,
  };
}
