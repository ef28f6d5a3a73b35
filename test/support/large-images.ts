import sharp from "sharp";

// Camera-sized JPEGs, made in memory: what users upload, and what makes a normalised PNG large.

/** Deterministic pseudo-random bytes (mulberry32), so a failing size or checksum can be reproduced. */
function noiseBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = (t ^ (t >>> 14)) >>> 24;
  }
  return out;
}

/**
 * A photo-like JPEG: smooth gradients and soft shapes with a little sensor noise, which PNG compresses poorly
 * (a 4000×3000 one is about 2.5 MB as JPEG and over 20 MB as PNG at full size).
 */
export async function photoLikeJpeg(width: number, height: number, seed = 1): Promise<Buffer> {
  const noise = noiseBytes(width * height, seed);
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      const n = ((noise[p] as number) - 128) / 16;
      const wave = 60 * Math.sin(x / 310 + y / 190);
      raw[p * 3] = (x / width) * 230 + 12 + n;
      raw[p * 3 + 1] = (y / height) * 200 + 30 + n;
      raw[p * 3 + 2] = 128 + wave + n;
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

/** Random pixels: the worst case for PNG (and JPEG) compression. */
export async function noisyJpeg(width: number, height: number, seed = 2, quality = 80): Promise<Buffer> {
  return sharp(noiseBytes(width * height * 3, seed), { raw: { width, height, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
}
