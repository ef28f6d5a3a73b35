// What the service knows about image bytes without decoding them: no sharp here, so modules that only need a
// content type or a sniffed format (the API's storage and forms) stay free of the native module. The shapes
// images are described by live here too, so lib/images depends on nothing else in lib/ (the provider catalog
// fills them in with each model's numbers).

export type ImageFormat = "png" | "jpeg" | "webp";

export interface Dimensions {
  width: number;
  height: number;
}

/** What input images must look like before they reach a model; the API conforms them with sharp. */
export interface InputRule {
  /** Pad to a square canvas (legacy models: "square PNG"). The padding is transparent, so it is edited too. */
  square: boolean;
  /**
   * The most the model reads, as its longest side and its pixels: larger inputs are scaled down to fit, because
   * the provider would scale them down anyway, and every byte beyond is stored, moved and paid for in vain.
   */
  maxEdge: number;
  maxPixels: number;
  /** Per encoded PNG image, and per mask. */
  maxBytes: number;
  maskMaxBytes: number;
}

export type SniffedFormat = ImageFormat | "gif" | "avif";

export const contentTypes: Record<SniffedFormat, string> = {
  png: "image/png",
  jpeg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
  avif: "image/avif",
};

/** The real type, from magic bytes. Filenames and content-types are claims, not facts. */
export function sniffFormat(bytes: Uint8Array): SniffedFormat | undefined {
  const b = bytes;
  const ascii = (start: number, end: number) => String.fromCharCode(...b.subarray(start, end));
  if (b.length >= 8 && b[0] === 0x89 && ascii(1, 4) === "PNG" && b[4] === 0x0d && b[5] === 0x0a) return "png";
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (b.length >= 12 && ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "webp";
  if (b.length >= 6 && (ascii(0, 6) === "GIF87a" || ascii(0, 6) === "GIF89a")) return "gif";
  if (b.length >= 12 && ascii(4, 8) === "ftyp" && ["avif", "avis"].includes(ascii(8, 12))) return "avif";
  return undefined;
}

// Pixel cap for every decode: a 40-byte PNG can declare billions of pixels.
export const maxInputPixels = 50_000_000;
