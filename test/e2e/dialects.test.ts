import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import sharp, { type Metadata } from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resourceNames } from "../../infra/resources.ts";
import { sandboxCredentials, sandboxRegion } from "../../infra/sandbox/emulators.ts";
import { httpClient, type Json } from "../support/http.ts";
import { type ImageHost, startImageHost } from "../support/image-host.ts";
import { inside, picture, pixels } from "../support/images.ts";
import { type SandboxProcess, startSandboxProcess } from "../support/sandbox-process.ts";

// Every example request of the documents of the three services this one stands in for (Backendless's OpenAI
// Image Service, Vision Studio's GPT Image API, AIGNE Hub's image generation; docs/dialects.md), run against
// `npm start` as their readers would run them: the curl commands with bash and curl, the Python with Debian's
// python3-requests and python3-aiohttp. Only the host and the key change. The copies in dialect-examples/ are
// verbatim; the public images they name are served by a loopback host (hence ALLOW_PRIVATE_URLS=true). Results are
// checked as a user would: how many images, their size and shape, format and transparency, the border an
// outpaint added, which pixels an edit changed, and where saved sources went.

const exec = promisify(execFile);
const examples = new URL("./dialect-examples/", import.meta.url).pathname;
const python = "/usr/bin/python3";
const sourcesFolder = "backendless/images";

interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}
const holeOf = (width: number, height: number): Rect => ({
  left: Math.round(width * 0.3),
  top: Math.round(height * 0.35),
  width: Math.round(width * 0.3),
  height: Math.round(height * 0.3),
});

/** The documents' public images, by path (their hosts all become the image host), with a size of our choosing. */
const photos: Record<string, [number, number, "png" | "jpeg"]> = {
  "/api/files/images/flower-field-original.png": [1024, 1024, "png"],
  "/api/files/images/burger.png": [1024, 1024, "png"],
  "/photos/1366919/pexels-photo-1366919.jpeg": [1200, 800, "jpeg"],
  "/photos/1391498/pexels-photo-1391498.jpeg": [1200, 800, "jpeg"],
  "/photos/458976/pexels-photo-458976.jpeg": [800, 1200, "jpeg"],
  "/photos/1108099/pexels-photo-1108099.jpeg": [1000, 1000, "jpeg"],
  "/photos/29023629/pexels-photo-29023629.jpeg": [1024, 768, "jpeg"],
  "/street_scene.jpg": [1200, 800, "jpeg"],
  "/portrait.jpg": [800, 1200, "jpeg"],
  "/landscape.jpg": [1024, 768, "jpeg"],
  "/space_scene.jpg": [1024, 768, "jpeg"],
  "/building.jpg": [768, 1024, "jpeg"],
};
/** Each mask with the image it belongs to: alpha 0 (a rectangle) marks what may change. */
const masks: Record<string, string> = {
  "/api/files/images/flower-field-mask.png": "/api/files/images/flower-field-original.png",
  "/mask.png": "/photos/29023629/pexels-photo-29023629.jpeg",
  "/car_mask.png": "/street_scene.jpg",
  "/background_mask.png": "/portrait.jpg",
};
/** Not in the documents: a PNG with a transparent hole, for Backendless's "the image's transparency is the mask". */
const cutOut = "/api/files/images/cut-out.png";

/** An RGBA PNG whose alpha is 0 inside `hole`: over `base`, or over black (a mask). */
async function holed(width: number, height: number, hole: Rect, base?: Buffer): Promise<Buffer> {
  const raw = base
    ? (await pixels(base)).data
    : Buffer.alloc(width * height * 4, Buffer.from([0, 0, 0, 255]));
  for (let y = hole.top; y < hole.top + hole.height; y++) {
    for (let x = hole.left; x < hole.left + hole.width; x++) raw[(y * width + x) * 4 + 3] = 0;
  }
  return sharp(raw, { raw: { width, height, channels: 4 } })
    .png()
    .toBuffer();
}

/**
 * Pixels that differ by more than a rounding error, inside and outside `hole`; those within `margin` of its edge
 * count as neither (resampling blends the two there).
 */
async function changes(before: Buffer, after: Buffer, hole: Rect, margin = 0) {
  const [a, b] = await Promise.all([pixels(before), pixels(after)]);
  expect([b.width, b.height]).toEqual([a.width, a.height]);
  let inHole = 0;
  let outside = 0;
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      const i = (y * a.width + x) * 4;
      let differs = false;
      for (let c = 0; c < 3; c++) differs ||= Math.abs((a.data[i + c] ?? 0) - (b.data[i + c] ?? 0)) > 2;
      if (!differs) continue;
      const grown = {
        left: hole.left - margin,
        top: hole.top - margin,
        width: hole.width + 2 * margin,
        height: hole.height + 2 * margin,
      };
      const shrunk = {
        left: hole.left + margin,
        top: hole.top + margin,
        width: hole.width - 2 * margin,
        height: hole.height - 2 * margin,
      };
      if (inside(shrunk, x, y)) inHole++;
      else if (!inside(grown, x, y)) outside++;
    }
  }
  return { inHole, outside, holeArea: (hole.width - 2 * margin) * (hole.height - 2 * margin) };
}

const jobIdOf = (url: string) => /\/jobs\/(job_[0-9a-z]{26})\/output-\d+\./.exec(url)?.[1] ?? "";

describe("the documented examples of Backendless, Vision Studio and AIGNE Hub, against npm start", () => {
  let sandbox: SandboxProcess;
  let host: ImageHost;
  let api: ReturnType<typeof httpClient>;
  let work: string;
  const files: Record<string, Buffer> = {};

  /** An example with only its host(s) and key changed, as its reader would change them. */
  const localise = (text: string) =>
    text
      .replace(/https:\/\/xxxx?\.backendless\.app/g, sandbox.url)
      .replace(/https:\/\/your-aigne-hub-instance\.com/g, sandbox.url)
      .replace(/http:\/\/localhost:8527/g, sandbox.url)
      .replace(/https:\/\/(www\.backendless\.us|images\.pexels\.com|example\.com)/g, host.origin)
      .replace(/YOUR_API_KEY|your-api-key/g, sandbox.key)
      // Backendless's requests carry no key: its clients add one header.
      .replace(/( +|\t)-H 'Accept: application\/json' \\\n/, `$&$1-H 'X-API-Key: ${sandbox.key}' \\\n`);

  /** Runs one of the documents' curl commands with bash, as pasted into a shell; its output is the response. */
  async function curl(name: string): Promise<Json> {
    const script = join(work, name);
    await writeFile(script, localise(await readFile(join(examples, name), "utf8")));
    const { stdout } = await exec("bash", [script], { cwd: work, maxBuffer: 64 * 1024 * 1024 });
    return JSON.parse(stdout);
  }

  const image = async (url: string) => {
    const res = await fetch(url);
    expect(res.status).toBe(200);
    const bytes = Buffer.from(await res.arrayBuffer());
    return { bytes, meta: await sharp(bytes).metadata() };
  };
  const job = async (id: string): Promise<Json> => (await api.get(`/v1/jobs/${id}`)).body;
  const sizeOf = (meta: Metadata) => `${meta.width}x${meta.height}`;

  beforeAll(async () => {
    for (const [path, [w, h, format]] of Object.entries(photos)) files[path] = await picture(w, h, format);
    for (const [path, of] of Object.entries(masks)) {
      const [w, h] = photos[of] ?? [0, 0];
      files[path] = await holed(w, h, holeOf(w, h));
    }
    // Smooth, so resizing it (made at the model's nearest size, delivered at 256x256) moves no pixel noticeably.
    const gradient = `<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512"><defs><linearGradient id="g" x2="1" y2="1"><stop offset="0" stop-color="#204080"/><stop offset="1" stop-color="#e0a040"/></linearGradient></defs><rect width="100%" height="100%" fill="url(#g)"/></svg>`;
    files[cutOut] = await holed(
      512,
      512,
      holeOf(512, 512),
      await sharp(Buffer.from(gradient)).png().toBuffer(),
    );
    host = await startImageHost(files);
    sandbox = await startSandboxProcess({
      ALLOW_PRIVATE_URLS: "true",
      TENANT_SOURCE_FOLDERS: JSON.stringify({ local: sourcesFolder }),
    });
    api = httpClient(sandbox.url, sandbox.key);
    work = await mkdtemp(join(tmpdir(), "dialect-examples-"));
    // The local files of Vision Studio's base64 example.
    await mkdir(join(work, "path/to"), { recursive: true });
    // A size gpt-image-2 makes (sides multiples of 16, at least 655,360 pixels), so the inpainted image comes back at the input's size.
    await writeFile(join(work, "path/to/garden.jpg"), await picture(1008, 672, "jpeg"));
    await writeFile(join(work, "path/to/mask.png"), await holed(1008, 672, holeOf(1008, 672)));
    const missing = await exec(python, ["-c", "import requests, aiohttp"]).then(
      () => undefined,
      (err: Error) => err.message,
    );
    if (missing) {
      throw new Error(
        `The Python examples need Debian's python3-requests and python3-aiohttp: apt-get install -y python3-requests python3-aiohttp\n${missing}`,
      );
    }
  });
  afterAll(async () => {
    await sandbox?.stop();
    await host?.close();
  });

  describe("Backendless OpenAI Image Service", () => {
    it("createImage: one 512x512 image, made at the model's nearest size and resized; the job records both", async () => {
      const urls = await curl("backendless-createImage.sh");
      expect(urls).toEqual([expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\//)]);
      const { meta } = await image(urls[0]);
      expect([meta.format, sizeOf(meta)]).toEqual(["png", "512x512"]);
      const record = await job(jobIdOf(urls[0]));
      expect([record.operation, record.status, record.input.output_size]).toEqual([
        "generate",
        "succeeded",
        "512x512",
      ]);
      // gpt-image-2 makes nothing under 655,360 pixels: the job asked for the nearest size it makes.
      const [w, h] = record.input.size.split("x").map(Number);
      expect(w * h).toBeGreaterThanOrEqual(655_360);
      expect(record.output.images[0]).toMatchObject({
        width: 512,
        height: 512,
        generated: { width: w, height: h },
      });
    });

    it("createImageEdit: two 1024x1024 edits that change only what the mask marks", async () => {
      const urls = await curl("backendless-createImageEdit.sh");
      expect(urls).toHaveLength(2);
      const original = files["/api/files/images/flower-field-original.png"] as Buffer;
      for (const url of urls) {
        const { bytes, meta } = await image(url);
        expect([meta.format, sizeOf(meta)]).toEqual(["png", "1024x1024"]);
        const { inHole, outside, holeArea } = await changes(original, bytes, holeOf(1024, 1024));
        expect(outside).toBe(0);
        expect(inHole).toBeGreaterThan(holeArea * 0.9);
      }
      expect((await job(jobIdOf(urls[0]))).input.mask_source).toBe("mask");
    });

    it("createImageVariation: two 1024x1024 variations", async () => {
      const urls = await curl("backendless-createImageVariation.sh");
      expect(urls).toHaveLength(2);
      for (const url of urls) expect(sizeOf((await image(url)).meta)).toBe("1024x1024");
      expect((await job(jobIdOf(urls[0]))).operation).toBe("variation");
    });

    it("edits without maskUrl where the image is transparent, and saves the sources in the tenant's folder", async () => {
      const res = await api.post(
        "/api/services/OpenAIImageService/createImageEdit",
        {
          imageUrl: `${host.origin}${cutOut}`,
          prompt: "a window",
          size: "256x256",
          responseFormat: "b64_json",
          saveSourceImage: true,
        },
        { authorization: "", "x-api-key": sandbox.key },
      );
      expect(res.status).toBe(200);
      expect(res.body).toHaveLength(1);
      const out = Buffer.from(res.body[0], "base64");
      const meta = await sharp(out).metadata();
      expect([meta.format, sizeOf(meta)]).toEqual(["png", "256x256"]);
      // At 256x256 the hole is half its size: only it changed.
      const before = await sharp(files[cutOut]).resize(256, 256).png().toBuffer();
      const { inHole, outside, holeArea } = await changes(before, out, holeOf(256, 256), 3);
      expect(outside).toBe(0);
      expect(inHole).toBeGreaterThan(holeArea * 0.9);
      const id = res.headers.get("x-job-id") ?? "";
      const record = await job(id);
      expect(record.input.mask_source).toBe("image_alpha");
      // Saved where the tenant's "images folder" says, as a user sees it in the bucket.
      const s3 = new S3Client({
        endpoint: sandbox.awsEndpoint,
        region: sandboxRegion,
        credentials: sandboxCredentials,
        forcePathStyle: true,
      });
      const listed = await s3.send(
        new ListObjectsV2Command({ Bucket: resourceNames.bucket, Prefix: `tenants/local/${sourcesFolder}/` }),
      );
      expect(listed.Contents?.map((o) => o.Key)).toContain(
        `tenants/local/${sourcesFolder}/${id}/source-0.png`,
      );
      expect(record.output.sources).toEqual([
        expect.objectContaining({
          role: "image",
          width: 512,
          height: 512,
          url: expect.stringContaining(sourcesFolder),
        }),
      ]);
      s3.destroy();
    });

    it("saves the source mask too, and answers errors in Backendless's {code, message}", async () => {
      const res = await api.post("/api/services/OpenAIImageService/createImageEdit", {
        imageUrl: `${host.origin}/api/files/images/flower-field-original.png`,
        maskUrl: `${host.origin}/api/files/images/flower-field-mask.png`,
        prompt: "a pond",
        saveSourceImage: true,
        saveSourceMask: true,
      });
      expect(res.status).toBe(200);
      const sources = (await job(res.headers.get("x-job-id") ?? "")).output.sources as Json[];
      expect(
        sources.map((s) => [s.role, new URL(s.url).pathname.split("/").slice(-4, -2).join("/")]),
      ).toEqual([
        ["image", sourcesFolder],
        ["mask", sourcesFolder],
      ]);
      const missing = await api.post("/api/services/OpenAIImageService/createImageVariation", {
        imageUrl: `${host.origin}/nowhere.png`,
      });
      expect([missing.status, missing.body]).toEqual([
        400,
        { code: "image_fetch_failed", message: "Invalid 'imageUrl': fetching the URL gave HTTP 404." },
      ]);
    });
  });

  describe("Vision Studio GPT Image API", () => {
    let results: Map<string, Json>;
    const images = async (section: string, count: number) => {
      const r = results.get(section);
      expect([section, r?.status, r?.body?.success, r?.body?.data?.images?.length]).toEqual([
        section,
        200,
        true,
        count,
      ]);
      return Promise.all((r.body.data.images as Json[]).map((i) => image(i.url)));
    };

    beforeAll(async () => {
      const script = join(work, "vision-studio.py");
      await writeFile(script, localise(await readFile(join(examples, "vision-studio.py"), "utf8")));
      const { stdout } = await exec(python, [join(examples, "run-sections.py"), script], {
        cwd: work,
        maxBuffer: 16 * 1024 * 1024,
      });
      results = new Map(
        stdout
          .trim()
          .split("\n")
          .map((line) => JSON.parse(line))
          .map((r) => [r.section, r]),
      );
    }, 180_000);

    it("runs every Python example of the document, each answered {success: true, data: {images}}", () => {
      expect([...results.keys()]).toHaveLength(18);
      expect(results.get("Prerequisites")).toEqual({ section: "Prerequisites" });
      for (const [section, r] of results) {
        if (section !== "Prerequisites")
          expect([section, r.status, r.body.success]).toEqual([section, 200, true]);
      }
    });

    it("generates the documented counts, aspect-ratio sizes and transparency", async () => {
      const sizes = async (section: string, count: number) =>
        (await images(section, count)).map(({ meta }) => `${meta.format} ${sizeOf(meta)}`);
      expect(await sizes("Basic Image Generation", 1)).toEqual(["png 1024x1024"]);
      expect(await sizes("High-Quality Portrait Generation", 1)).toEqual(["png 683x1024"]);
      expect(await sizes("Multiple Landscape Images", 4)).toEqual(Array(4).fill("png 1024x683"));
      expect(await sizes("Creative Art Generation", 3)).toEqual(Array(3).fill("png 1024x1024"));
      const [logo] = await images("Transparent Background Generation", 1);
      expect(logo?.meta.hasAlpha).toBe(true);
      const { data } = await pixels(logo?.bytes as Buffer);
      let clear = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] === 0) clear++;
      expect(clear).toBeGreaterThan(1024 * 1024 * 0.05);
    });

    it("edits images from URLs at the aspect ratio asked", async () => {
      const size = async (section: string, count: number) =>
        (await images(section, count)).map(({ meta }) => sizeOf(meta));
      expect(await size("Basic Image Editing", 1)).toEqual(["1024x1024"]);
      expect(await size("Style Transformation", 2)).toEqual(["1024x683", "1024x683"]);
      expect(await size("Mood and Atmosphere Changes", 1)).toEqual(["683x1024"]);
      expect(await size("Color Enhancement", 1)).toEqual(["1024x1024"]);
    });

    it("inpaints only what each mask marks, from URLs and from base64 files", async () => {
      const cases: [string, Buffer, number, number][] = [
        [
          "Basic Manual Mask Inpainting",
          files["/photos/29023629/pexels-photo-29023629.jpeg"] as Buffer,
          1024,
          768,
        ],
        ["Object Replacement with Mask", files["/street_scene.jpg"] as Buffer, 1200, 800],
        ["Background Modification with Mask", files["/portrait.jpg"] as Buffer, 800, 1200],
        ["Using Base64 Encoded Images", await readFile(join(work, "path/to/garden.jpg")), 1008, 672],
      ];
      for (const [section, source, w, h] of cases) {
        const [out] = await images(section, 1);
        const { inHole, outside, holeArea } = await changes(source, out?.bytes as Buffer, holeOf(w, h));
        expect([section, outside, inHole > holeArea * 0.9]).toEqual([section, 0, true]);
      }
    });

    it("extends the border by border_percentage on every side, the original kept in the middle", async () => {
      const cases: [string, string, number][] = [
        ["Basic Border Expansion", "/photos/29023629/pexels-photo-29023629.jpeg", 0.2],
        ["Minimal Border Expansion", "/landscape.jpg", 0.05],
        ["Dramatic Border Expansion", "/space_scene.jpg", 0.4],
        ["Architectural Border Extension", "/building.jpg", 0.25],
      ];
      for (const [section, path, border] of cases) {
        const [w, h] = photos[path] ?? [0, 0];
        const [out] = await images(section, 1);
        const meta = out?.meta as Metadata;
        // The canvas is the original grown by the border on each side, snapped to a size the model makes.
        expect(meta.width / (w * (1 + 2 * border))).toBeCloseTo(1, 1);
        expect(meta.height / (h * (1 + 2 * border))).toBeCloseTo(1, 1);
        // The original sits in the middle, unchanged; the border around it is new.
        const url = results.get(section).body.data.images[0].url;
        const placement = (await job(jobIdOf(url))).input.placement as Rect;
        expect([section, placement.left / placement.width, placement.top / placement.height]).toEqual([
          section,
          expect.closeTo(border, 1),
          expect.closeTo(border, 1),
        ]);
        const middle = await sharp(out?.bytes).extract(placement).png().toBuffer();
        const original = await sharp(files[path]).resize(placement.width, placement.height).png().toBuffer();
        const { outside } = await changes(original, middle, { left: 0, top: 0, width: 0, height: 0 });
        expect([section, outside / (placement.width * placement.height)]).toEqual([
          section,
          expect.closeTo(0, 2),
        ]);
      }
    });

    it("runs the concurrent example unchanged: 8 requests, 15 images, each at its ratio's size", async () => {
      const prerequisites = (await readFile(join(examples, "vision-studio.py"), "utf8")).split("\n# === ")[1];
      // Not concurrent.py: that name would shadow the standard library package asyncio imports.
      const script = join(work, "vision_studio_concurrent.py");
      await writeFile(
        script,
        localise(
          `${prerequisites?.replace(/^Prerequisites\n/, "")}\n${await readFile(join(examples, "vision-studio-concurrent.py"), "utf8")}`,
        ),
      );
      const { stdout } = await exec(python, [script], { cwd: work, timeout: 170_000 });
      expect(stdout).toContain("Starting 8 concurrent image generation requests...");
      expect(stdout).toContain("Successful requests: 8");
      expect(stdout).toContain("Failed requests: 0");
      expect(stdout).toContain("Total images generated: 15");
      expect(stdout).toContain("Expected images: 15");
      const expected: Record<string, string> = { "1:1": "1024x1024", "2:3": "683x1024", "3:2": "1024x683" };
      let checked = 0;
      for (const block of stdout.split("✅ ").slice(1)) {
        const ratio = /quality, (\d+:\d+) ratio - (\d+) images/.exec(block);
        const urls = [...block.matchAll(/^ {3}Image \d+: (\S+)$/gm)].map((m) => m[1] as string);
        expect(urls).toHaveLength(Number(ratio?.[2]));
        for (const url of urls) {
          expect(sizeOf((await image(url)).meta)).toBe(expected[ratio?.[1] ?? ""]);
          checked++;
        }
      }
      expect(checked).toBe(15);
    }, 180_000);
  });

  describe("AIGNE Hub", () => {
    it("generates with the default dall-e-2, served by its replacement: {created, data: [{url}]}", async () => {
      const res = await curl("aigne-hub-basic.sh");
      expect(res).toEqual({ created: expect.any(Number), data: [{ url: expect.stringMatching(/^http:/) }] });
      expect(Math.abs(res.created - Date.now() / 1000)).toBeLessThan(120);
      expect(sizeOf((await image(res.data[0].url)).meta)).toBe("1024x1024");
      const record = await job(jobIdOf(res.data[0].url));
      expect([record.operation, record.model]).toEqual(["generate", "gpt-image-2"]);
    });

    it("generates with dall-e-3 as base64 at 1792x1024; hd and vivid are dall-e-3's and left out", async () => {
      const res = await curl("aigne-hub-dall-e-3-b64.sh");
      expect(res).toEqual({ created: expect.any(Number), data: [{ b64_json: expect.any(String) }] });
      const meta = await sharp(Buffer.from(res.data[0].b64_json, "base64")).metadata();
      expect([meta.format, sizeOf(meta)]).toEqual(["png", "1792x1024"]);
      const [latest] = (await api.get("/v1/jobs?limit=1")).body.data;
      expect([latest.model, latest.input.size, latest.input.quality, latest.input.style]).toEqual([
        "gpt-image-2",
        "1792x1024",
        undefined,
        undefined,
      ]);
    });
  });
});
