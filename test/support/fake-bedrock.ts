import { once } from "node:events";
import { createServer, type Http2Server, type Http2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import sharp from "sharp";

// A stand-in for bedrock-runtime that speaks InvokeModel over HTTP/2 (POST /model/{modelId}/invoke, JSON in and
// out; the client's handler is HTTP/2, cleartext for an http:// endpoint), so the real BedrockRuntimeClient does
// the talking through an endpoint override. It checks each body
// as Bedrock would for Stability's models and answers with real images in their response shape
// ({images, seeds, finish_reasons}); errors carry `x-amzn-ErrorType`, which the SDK turns into its exceptions.

export interface BedrockRequest {
  modelId: string;
  body: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
}

export type BedrockScript = { error: string; status: number; message?: string } | { finishReason: string };

export interface FakeBedrock {
  endpoint: string;
  requests: BedrockRequest[];
  /** Answers served before normal behaviour resumes, first in first out. */
  script(...answers: BedrockScript[]): void;
  close(): Promise<void>;
}

const ratios: Record<string, [number, number]> = {
  "1:1": [1024, 1024],
  "16:9": [1344, 768],
  "21:9": [1536, 640],
  "2:3": [832, 1216],
  "3:2": [1216, 832],
  "4:5": [896, 1088],
  "5:4": [1088, 896],
  "9:16": [768, 1344],
  "9:21": [640, 1536],
};

/** The colour the fake paints where an inpaint mask is white: tests look for it pixel by pixel. */
export const inpaintColour = { r: 0, g: 200, b: 0 };

type Body = Record<string, unknown>;
type Check = (body: Body) => string | undefined;

const isString = (v: unknown) => typeof v === "string" && v.length > 0;
const formats =
  (allowed: string[]): Check =>
  (b) =>
    b.output_format === undefined || allowed.includes(b.output_format as string)
      ? undefined
      : `output_format must be one of ${allowed.join(", ")}`;
const seed: Check = (b) =>
  b.seed === undefined ||
  (Number.isInteger(b.seed) && (b.seed as number) >= 0 && (b.seed as number) <= 4294967294)
    ? undefined
    : "seed must be an integer from 0 to 4294967294";
const only =
  (fields: string[]): Check =>
  (b) => {
    const extra = Object.keys(b).find((k) => !fields.includes(k));
    return extra ? `extraneous key [${extra}] is not permitted` : undefined;
  };
const required =
  (...fields: string[]): Check =>
  (b) => {
    const missing = fields.find((f) => !isString(b[f]));
    return missing ? `required key [${missing}] not found` : undefined;
  };

/** What each model family accepts, as Bedrock's validation states it. */
const families: Record<string, { checks: Check[]; answer: (b: Body) => Promise<Buffer> }> = {
  "text-to-image": {
    checks: [
      only(["prompt", "negative_prompt", "aspect_ratio", "seed", "output_format", "mode"]),
      required("prompt"),
      (b) =>
        b.aspect_ratio === undefined || (typeof b.aspect_ratio === "string" && b.aspect_ratio in ratios)
          ? undefined
          : "aspect_ratio is invalid",
      seed,
      formats(["jpeg", "png", "webp"]),
    ],
    answer: async (b) => {
      const [width, height] = ratios[(b.aspect_ratio as string | undefined) ?? "1:1"] as [number, number];
      const s = (b.seed as number | undefined) ?? 0;
      const background = { r: s % 256, g: (s >> 8) % 256, b: (s >> 16) % 256 };
      return sharp({ create: { width, height, channels: 3, background } })
        .toFormat((b.output_format as "png" | undefined) ?? "png")
        .toBuffer();
    },
  },
  inpaint: {
    checks: [
      only([
        "prompt",
        "negative_prompt",
        "image",
        "mask",
        "seed",
        "output_format",
        "grow_mask",
        "style_preset",
      ]),
      required("prompt", "image"),
      seed,
      formats(["jpeg", "png", "webp"]),
    ],
    // Where the mask is white, the fake's colour; where black, the input image, untouched.
    answer: async (b) => {
      const image = sharp(Buffer.from(b.image as string, "base64"));
      const { data, info } = await image.ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      const mask = b.mask
        ? await sharp(Buffer.from(b.mask as string, "base64"))
            .resize(info.width, info.height)
            .greyscale()
            .raw()
            .toBuffer()
        : Buffer.alloc(info.width * info.height, 255);
      for (let p = 0; p < info.width * info.height; p++) {
        const w = (mask[p] as number) / 255;
        const paint = [inpaintColour.r, inpaintColour.g, inpaintColour.b, 255];
        for (let c = 0; c < 4; c++) {
          data[p * 4 + c] = Math.round((data[p * 4 + c] as number) * (1 - w) + (paint[c] as number) * w);
        }
      }
      return sharp(data, { raw: { width: info.width, height: info.height, channels: 4 } })
        .toFormat((b.output_format as "png" | undefined) ?? "png")
        .toBuffer();
    },
  },
  "remove-background": {
    checks: [only(["image", "output_format"]), required("image"), formats(["png", "webp"])],
    // Pixels the colour of the top-left corner become transparent.
    answer: async (b) => {
      const { data, info } = await sharp(Buffer.from(b.image as string, "base64"))
        .ensureAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
      for (let p = 0; p < info.width * info.height; p++) {
        if ([0, 1, 2].every((c) => data[p * 4 + c] === data[c])) data[p * 4 + 3] = 0;
      }
      return sharp(data, { raw: { width: info.width, height: info.height, channels: 4 } })
        .toFormat((b.output_format as "png" | undefined) ?? "png")
        .toBuffer();
    },
  },
};

const familyOf: Record<string, string> = {
  "stability.stable-image-core-v1:1": "text-to-image",
  "stability.stable-image-ultra-v1:1": "text-to-image",
  "stability.sd3-5-large-v1:0": "text-to-image",
  "stability.stable-image-inpaint-v1:0": "inpaint",
  "stability.stable-image-remove-background-v1:0": "remove-background",
};

export async function startFakeBedrock(): Promise<FakeBedrock> {
  const requests: BedrockRequest[] = [];
  const scripted: BedrockScript[] = [];
  const sessions = new Set<Http2Session>();
  const server: Http2Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const fail = (status: number, type: string, message: string) => {
      res.writeHead(status, { "content-type": "application/json", "x-amzn-errortype": type });
      res.end(JSON.stringify({ message }));
    };
    const match = /^\/model\/([^/]+)\/invoke$/.exec(req.url ?? "");
    if (req.method !== "POST" || !match) return fail(404, "UnknownOperationException", "Unknown operation");
    const modelId = decodeURIComponent(match[1] as string);
    let body: Body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Body;
    } catch {
      return fail(
        400,
        "ValidationException",
        "Malformed input request, please reformat your input and try again.",
      );
    }
    requests.push({ modelId, body, headers: req.headers });
    const next = scripted.shift();
    if (next && "error" in next) return fail(next.status, next.error, next.message ?? next.error);
    const family = families[familyOf[modelId] ?? ""];
    if (!family) return fail(404, "ResourceNotFoundException", `Model ${modelId} not found`);
    const problem = family.checks.map((c) => c(body)).find((p) => p !== undefined);
    if (problem) return fail(400, "ValidationException", `Malformed input request: ${problem}`);
    const seeds = [typeof body.seed === "number" ? body.seed : 0];
    res.writeHead(200, { "content-type": "application/json" });
    if (next && "finishReason" in next) {
      res.end(JSON.stringify({ seeds, finish_reasons: [next.finishReason], images: [] }));
      return;
    }
    const image = await family.answer(body);
    res.end(JSON.stringify({ seeds, finish_reasons: [null], images: [image.toString("base64")] }));
  });
  server.on("session", (session: Http2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    script: (...answers) => scripted.push(...answers),
    close: () =>
      new Promise<void>((resolve) => {
        for (const session of sessions) session.destroy();
        server.close(() => resolve());
      }),
  };
}
