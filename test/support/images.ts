import { deflateSync } from "node:zlib";
import sharp from "sharp";

// Small test images built in memory, and raw pixel access for pixel-level assertions.

export interface Pixels {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
}

/** Decodes to raw RGBA (alpha added if absent), so pixels can be compared one by one. */
export async function pixels(image: Buffer): Promise<Pixels> {
  const { data, info } = await sharp(image).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

export const at = (p: Pixels, x: number, y: number) => [
  ...p.data.subarray((y * p.width + x) * 4, (y * p.width + x) * 4 + 4),
];

/** A picture with structure (gradient and a few blocks), so scaling, cropping and orientation show. */
export async function picture(
  width: number,
  height: number,
  format: "png" | "jpeg" | "webp" | "gif" | "avif" = "png",
) {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <defs><linearGradient id="g"><stop offset="0" stop-color="#204080"/><stop offset="1" stop-color="#e0a040"/></linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#g)"/>
    <rect x="0" y="0" width="${Math.round(width / 4)}" height="${Math.round(height / 4)}" fill="#ff0000"/>
    <circle cx="${width * 0.7}" cy="${height * 0.6}" r="${Math.min(width, height) / 6}" fill="#10c060"/></svg>`;
  return sharp(Buffer.from(svg)).toFormat(format).toBuffer();
}

/** RGBA PNG whose alpha is 0 inside `hole` and 255 elsewhere (an OpenAI-style mask, or a cut-out image). */
export async function withHole(
  width: number,
  height: number,
  hole: { left: number; top: number; width: number; height: number },
  rgb: [number, number, number] = [0, 0, 0],
): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const inside =
        x >= hole.left && x < hole.left + hole.width && y >= hole.top && y < hole.top + hole.height;
      raw[i] = rgb[0];
      raw[i + 1] = rgb[1];
      raw[i + 2] = rgb[2];
      raw[i + 3] = inside ? 0 : 255;
    }
  }
  return sharp(raw, { raw: { width, height, channels: 4 } })
    .png()
    .toBuffer();
}

/** Whether pixel (x, y) lies in the rectangle. */
export const inside = (
  r: { left: number; top: number; width: number; height: number },
  x: number,
  y: number,
) => x >= r.left && x < r.left + r.width && y >= r.top && y < r.top + r.height;

function crc32(buf: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of buf) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A valid PNG header declaring `side`×`side` pixels, in about a hundred bytes: a decompression bomb. */
export function pixelBomb(side = 100_000): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Buffer.alloc(64))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** Mean absolute difference per channel (0-255) between two same-sized images. */
export async function meanDifference(a: Buffer, b: Buffer): Promise<number> {
  const [pa, pb] = await Promise.all([pixels(a), pixels(b)]);
  if (pa.width !== pb.width || pa.height !== pb.height) throw new Error("sizes differ");
  let sum = 0;
  for (let i = 0; i < pa.data.length; i++)
    if (i % 4 !== 3) sum += Math.abs((pa.data[i] as number) - (pb.data[i] as number));
  return sum / ((pa.data.length / 4) * 3);
}
