import { crc32, deflateSync } from "node:zlib";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { maxInputPixels } from "../../lib/images/types.ts";
import { httpClient, type Json } from "../support/http.ts";
import { picture } from "../support/images.ts";
import { type ServiceStack, startServiceStack } from "../support/service-stack.ts";
import { full, printFigures, rssMb } from "./figures.ts";

// Image bombs and impostors, uploaded (multipart) and inlined (base64 in a job): each is refused with a clear
// 4xx, quickly, without the API's memory growing with what the file claims. The service runs in this process,
// so this process's RSS is the API's.

let svc: ServiceStack;

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type, "latin1"), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** A ~100-byte PNG whose header declares width × height pixels, with a few bytes of real image data. */
function declaredPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.writeUInt8(8, 8); // bit depth
  ihdr.writeUInt8(2, 9); // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Buffer.alloc(64))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** A real JPEG whose SOF header is rewritten to claim width × height. */
async function declaredJpeg(width: number, height: number): Promise<Buffer> {
  const jpeg = Buffer.from(
    await sharp({ create: { width: 64, height: 64, channels: 3, background: "#888" } })
      .jpeg()
      .toBuffer(),
  );
  for (let i = 2; i < jpeg.length - 9; i++) {
    if (jpeg[i] === 0xff && jpeg[i + 1] === 0xc0) {
      jpeg.writeUInt16BE(height, i + 5);
      jpeg.writeUInt16BE(width, i + 7);
      return jpeg;
    }
  }
  throw new Error("no SOF0 marker");
}

/** A real lossy WebP whose VP8 frame header is rewritten to claim 16383 × 16383 (its largest). */
async function declaredWebp(): Promise<Buffer> {
  const webp = Buffer.from(
    await sharp({ create: { width: 64, height: 64, channels: 3, background: "#888" } })
      .webp()
      .toBuffer(),
  );
  const start = webp.indexOf(Buffer.from([0x9d, 0x01, 0x2a]));
  if (start < 0) throw new Error("no VP8 start code");
  webp.writeUInt16LE(0x3fff, start + 3);
  webp.writeUInt16LE(0x3fff, start + 5);
  return webp;
}

/** A real GIF whose logical screen and first frame are rewritten to claim 65535 × 65535. */
async function declaredGif(): Promise<Buffer> {
  const gif = Buffer.from(
    await sharp({ create: { width: 64, height: 64, channels: 3, background: "#888" } })
      .gif()
      .toBuffer(),
  );
  gif.writeUInt16LE(0xffff, 6);
  gif.writeUInt16LE(0xffff, 8);
  const packed = gif[10] ?? 0;
  let at = 13 + (packed & 0x80 ? 3 * 2 ** ((packed & 7) + 1) : 0);
  while (gif[at] === 0x21) {
    at += 2;
    while ((gif[at] ?? 0) > 0) at += (gif[at] ?? 0) + 1;
    at += 1;
  }
  if (gif[at] !== 0x2c) throw new Error("no image descriptor");
  gif.writeUInt16LE(0xffff, at + 5);
  gif.writeUInt16LE(0xffff, at + 7);
  return gif;
}

interface Bomb {
  name: string;
  bytes: Buffer;
  /** What the client claims it is. */
  filename: string;
  type: string;
  code: string;
}

let bombs: Bomb[];

beforeAll(async () => {
  svc = await startServiceStack();
  const png = await picture(256, 256, "png");
  const svg = Buffer.from(
    '<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000"><rect width="100%" height="100%"/></svg>',
  );
  // A billion laughs in SVG clothing: entity expansion, if anything ever parsed it.
  const laughs = Buffer.from(
    `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">${Array.from({ length: 9 }, (_, i) => `<!ENTITY ${String.fromCharCode(98 + i)} "${`&${String.fromCharCode(97 + i)};`.repeat(10)}">`).join("")}]><svg xmlns="http://www.w3.org/2000/svg">&j;</svg>`,
  );
  const pixels = maxInputPixels.toLocaleString("en");
  bombs = [
    {
      name: "PNG declaring 100000×100000",
      bytes: declaredPng(100_000, 100_000),
      filename: "a.png",
      type: "image/png",
      code: "image_too_large",
    },
    {
      name: "PNG declaring 2^31-1 × 2^31-1",
      bytes: declaredPng(2 ** 31 - 1, 2 ** 31 - 1),
      filename: "a.png",
      type: "image/png",
      code: "*",
    },
    {
      name: `PNG declaring just over ${pixels} px`,
      bytes: declaredPng(7072, 7072),
      filename: "a.png",
      type: "image/png",
      code: "image_too_large",
    },
    {
      name: "JPEG declaring 60000×60000",
      bytes: await declaredJpeg(60_000, 60_000),
      filename: "a.jpg",
      type: "image/jpeg",
      code: "image_too_large",
    },
    {
      name: "WebP declaring 16383×16383",
      bytes: await declaredWebp(),
      filename: "a.webp",
      type: "image/webp",
      code: "image_too_large",
    },
    {
      name: "GIF declaring 65535×65535",
      bytes: await declaredGif(),
      filename: "a.gif",
      type: "image/gif",
      code: "image_too_large",
    },
    {
      name: "truncated PNG",
      bytes: png.subarray(0, Math.floor(png.length / 2)),
      filename: "a.png",
      type: "image/png",
      code: "*",
    },
    {
      name: "PNG with a damaged IDAT",
      bytes: Buffer.concat([png.subarray(0, 60), Buffer.alloc(200, 0x41), png.subarray(260)]),
      filename: "a.png",
      type: "image/png",
      code: "*",
    },
    {
      name: "PNG signature alone",
      bytes: png.subarray(0, 8),
      filename: "a.png",
      type: "image/png",
      code: "*",
    },
    {
      name: "SVG named a.png, sent as image/png",
      bytes: svg,
      filename: "a.png",
      type: "image/png",
      code: "invalid_image_format",
    },
    {
      name: "XML entity bomb as image/png",
      bytes: laughs,
      filename: "a.png",
      type: "image/png",
      code: "invalid_image_format",
    },
    {
      name: "HTML as image/png",
      bytes: Buffer.from("<!doctype html><html><body><img src=x onerror=alert(1)></body></html>"),
      filename: "a.png",
      type: "image/png",
      code: "invalid_image_format",
    },
    {
      name: "ZIP as image/png",
      bytes: Buffer.concat([Buffer.from("PK\u0003\u0004"), Buffer.alloc(500)]),
      filename: "a.png",
      type: "image/png",
      code: "invalid_image_format",
    },
    {
      name: "PDF as image/png",
      bytes: Buffer.from("%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"),
      filename: "a.png",
      type: "image/png",
      code: "invalid_image_format",
    },
  ];
});

afterAll(async () => {
  await svc?.close();
});

function form(
  fields: Record<string, string>,
  file: { bytes: Buffer; filename: string; type: string },
): FormData {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  f.append("image", new Blob([new Uint8Array(file.bytes)], { type: file.type }), file.filename);
  return f;
}

/** Runs `request` while sampling RSS every 5 ms: its time and the peak growth over the baseline. */
async function measured<T>(
  request: () => Promise<T>,
): Promise<{ result: T; ms: number; rssDeltaMb: number }> {
  const baseline = rssMb();
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMb());
  }, 5);
  const started = performance.now();
  try {
    const result = await request();
    peak = Math.max(peak, rssMb());
    return { result, ms: performance.now() - started, rssDeltaMb: peak - baseline };
  } finally {
    clearInterval(sampler);
  }
}

describe("image bombs", () => {
  it("refuses each quickly with a clear 4xx, uploaded or inlined, with bounded memory", async () => {
    const figures: Record<string, string> = {};
    let worstMs = 0;
    let worstRss = 0;
    for (const bomb of bombs) {
      const upload = await measured(async () => {
        const res = await fetch(`${svc.url}/v1/images/edits`, {
          method: "POST",
          headers: { authorization: `Bearer ${svc.keys.acme}` },
          body: form({ prompt: "x" }, bomb),
        });
        return { status: res.status, body: (await res.json()) as Json };
      });
      const inline = await measured(() =>
        httpClient(svc.url, svc.keys.acme).post("/v1/jobs", {
          operation: "edit",
          input: { prompt: "x", images: [bomb.bytes.toString("base64")] },
        }),
      );
      for (const [how, m] of [
        ["upload", upload],
        ["inline", inline],
      ] as const) {
        const { status, body } = m.result;
        expect(status, `${bomb.name} (${how}): ${JSON.stringify(body)}`).toBe(400);
        expect(body.error.param, bomb.name).toMatch(/image/);
        if (bomb.code !== "*") expect(body.error.code, `${bomb.name}: ${body.error.message}`).toBe(bomb.code);
        else expect(body.error.code, bomb.name).toMatch(/^(invalid_image|image_too_large|corrupt)/);
        worstMs = Math.max(worstMs, m.ms);
        worstRss = Math.max(worstRss, m.rssDeltaMb);
      }
      figures[bomb.name] =
        `${upload.result.status} ${upload.result.body.error.code} in ${upload.ms.toFixed(0)} ms (RSS +${upload.rssDeltaMb.toFixed(1)} MB); inline ${inline.ms.toFixed(0)} ms (RSS +${inline.rssDeltaMb.toFixed(1)} MB)`;
    }
    printFigures("image bombs", {
      ...figures,
      "slowest refusal": `${worstMs.toFixed(0)} ms`,
      "largest RSS growth": `${worstRss.toFixed(1)} MB`,
    });
    // Header-only refusals: nothing is decoded, so neither time nor memory follows the claimed size.
    expect(worstMs).toBeLessThan(2_000);
    expect(worstRss).toBeLessThan(64);
  });

  it("a solid image just under the pixel cap (a few hundred KB, 143 MB decoded) is accepted with bounded memory", async () => {
    const api = httpClient(svc.url, svc.keys.acme);
    const side = Math.floor(Math.sqrt(maxInputPixels));
    const figures: Record<string, string> = {};
    for (const format of full ? (["jpeg", "png"] as const) : (["jpeg"] as const)) {
      const bytes = await sharp({ create: { width: side, height: side, channels: 3, background: "#3366cc" } })
        .toFormat(format)
        .toBuffer();
      const m = await measured(() =>
        api.post("/v1/jobs", {
          operation: "edit",
          input: { prompt: "x", images: [bytes.toString("base64")] },
        }),
      );
      expect(m.result.status, m.result.text).toBe(202);
      await api.post(`/v1/jobs/${m.result.body.id}/cancel`);
      figures[`${side}×${side} solid ${format} (${(bytes.length / 1024).toFixed(0)} KB)`] =
        `accepted in ${m.ms.toFixed(0)} ms, RSS +${m.rssDeltaMb.toFixed(1)} MB (decoded size ${((side * side * 3) / 1024 / 1024).toFixed(0)} MB)`;
      // Decoded and scaled down as a stream: memory stays well below the decoded size.
      expect(m.rssDeltaMb).toBeLessThan(140);
    }
    printFigures("image bombs: large but legal", figures);
  });

  it("nothing refused left a job or an image behind", async () => {
    const api = httpClient(svc.url, svc.keys.acme);
    const list = await api.get("/v1/jobs");
    expect(list.status).toBe(200);
    // Only the accepted large images became jobs.
    expect(list.body.data.map((j: Json) => j.operation)).toEqual(list.body.data.map(() => "edit"));
    expect(list.body.data.length).toBe(full ? 2 : 1);
  });
});
