import { describe, expect, it } from "vitest";
import { imagesResponseJson } from "../../lib/jobs/view.ts";

// The sync answer's JSON is built by splicing base64 in, not by JSON.stringify: it must be the same text.
describe("imagesResponseJson", () => {
  const b64 = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 37) % 256)).toString("base64");

  it("writes exactly what JSON.stringify writes, for b64_json with and without revised prompts", () => {
    const response = {
      created: 1_790_000_000,
      data: [
        { b64_json: b64, revised_prompt: 'a "quoted" prompt, "data":[] and \u00e9\u2028 \\ too' },
        { b64_json: `${b64}==` },
      ],
      background: "transparent" as const,
      output_format: "png" as const,
      size: "1024x1024",
      usage: {
        input_tokens: 1,
        output_tokens: 2,
        total_tokens: 3,
        input_tokens_details: { text_tokens: 1, image_tokens: 0 },
      },
    };
    const text = imagesResponseJson(response);
    expect(text).toBe(JSON.stringify(response));
    expect(JSON.parse(text)).toEqual(response);
  });

  it("writes url answers and empty data as JSON.stringify does", () => {
    const urls = { created: 1, data: [{ url: 'https://x/y?a=1&b="2"' }], output_format: "webp" as const };
    expect(imagesResponseJson(urls)).toBe(JSON.stringify(urls));
    const none = { created: 1, data: [], output_format: "png" as const };
    expect(imagesResponseJson(none)).toBe(JSON.stringify(none));
  });
});
