import { createHash } from "node:crypto";
import sharp from "sharp";
import { encode } from "../images/formats.ts";
import type { GenerateCall, ImageProvider, ProviderResult } from "./types.ts";

/**
 * Offline stand-in for a real model: deterministic, prompt-seeded abstract art of the requested size and
 * format, made with sharp. The same prompt and seed always give the same pixels.
 */
export class PlaceholderProvider implements ImageProvider {
  readonly name = "placeholder";

  async generate(call: GenerateCall): Promise<ProviderResult> {
    const size = call.size ?? { width: 1024, height: 1024 };
    const images = await Promise.all(
      Array.from({ length: call.n }, async (_, i) => {
        const svg = renderSvg(
          `${call.model.id}\n${call.prompt}\n${call.seed}\n${i}`,
          size.width,
          size.height,
          {
            transparent: call.background === "transparent",
          },
        );
        const data = await encode(sharp(Buffer.from(svg)), {
          format: call.outputFormat,
          compression: call.outputCompression,
          keepAlpha: call.background === "transparent",
        }).toBuffer();
        return { data, revisedPrompt: call.prompt };
      }),
    );
    return { images };
  }
}

function rng(seedText: string): () => number {
  const seed = createHash("sha256").update(seedText).digest();
  let state = seed.readUInt32LE(0) ^ seed.readUInt32LE(4);
  // mulberry32: small and deterministic.
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function renderSvg(
  seedText: string,
  width: number,
  height: number,
  options: { transparent: boolean },
): string {
  const r = rng(seedText);
  const hue = Math.floor(r() * 360);
  const shapes: string[] = [];
  const scale = Math.min(width, height);
  for (let i = 0; i < 7; i++) {
    const h = (hue + 40 + Math.floor(r() * 200)) % 360;
    const cx = Math.round(r() * width);
    const cy = Math.round(r() * height);
    const rad = Math.round(scale * (0.08 + r() * 0.25));
    shapes.push(`<circle cx="${cx}" cy="${cy}" r="${rad}" fill="hsl(${h},70%,55%)" fill-opacity="0.8"/>`);
  }
  const background = options.transparent
    ? ""
    : `<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="hsl(${hue},60%,30%)"/><stop offset="1" stop-color="hsl(${(hue + 90) % 360},60%,65%)"/></linearGradient></defs><rect width="100%" height="100%" fill="url(#g)"/>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${background}${shapes.join("")}</svg>`;
}
