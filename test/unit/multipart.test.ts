import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formObject } from "../../lib/api/form.ts";
import { parseMultipart } from "../../lib/api/multipart.ts";
import { InvalidRequestError } from "../../lib/errors.ts";
import { UploadedFile } from "../../lib/jobs/sources.ts";

const png = Buffer.from("89504e470d0a1a0a0000000d49484452", "hex");

/** Encodes a form as undici (fetch's FormData) does: the bytes and content-type a real client sends. */
async function encode(form: FormData): Promise<{ body: Buffer; type: string }> {
  const req = new Request("http://x/", { method: "POST", body: form });
  return { body: Buffer.from(await req.arrayBuffer()), type: req.headers.get("content-type") ?? "" };
}

function problem(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidRequestError);
    return (err as InvalidRequestError).message;
  }
  throw new Error("expected a 400");
}

const shape = {
  files: ["image", "mask"],
  numbers: ["n", "output_compression"],
  booleans: ["save_source_image"],
};

describe("multipart parsing", () => {
  it("reads an empty field or the text null as null (not given), except free text", async () => {
    const form = new FormData();
    form.append("prompt", "null");
    form.append("n", "null");
    form.append("size", "");
    form.append("save_source_image", "null");
    form.append("image", new Blob([png]), "a.png");
    const { body, type } = await encode(form);
    const out = formObject(parseMultipart(body, type), { ...shape, texts: ["prompt"] });
    expect(out).toMatchObject({ prompt: "null", n: null, size: null, save_source_image: null });
  });

  it("reads fields and files, with repeated image[] parts in order", async () => {
    const form = new FormData();
    form.append("prompt", 'a cat, "quoted"\r\nnext line');
    form.append("n", "2");
    form.append("image[]", new Blob([png]), "one.png");
    form.append("image[]", new Blob([Buffer.from("second")]), 'we"ird\nname.png');
    form.append("mask", new Blob([png], { type: "image/png" }), "mask.png");
    const { body, type } = await encode(form);
    const parts = parseMultipart(body, type);
    expect(parts.map((p) => [p.name, p.filename, p.contentType])).toEqual([
      ["prompt", undefined, undefined],
      ["n", undefined, undefined],
      ["image[]", "one.png", "application/octet-stream"],
      ["image[]", 'we"ird\nname.png', "application/octet-stream"],
      ["mask", "mask.png", "image/png"],
    ]);
    expect(parts[0]?.data.toString()).toBe('a cat, "quoted"\r\nnext line');
    expect(parts[2]?.data.equals(png)).toBe(true);
    expect(parts[3]?.data.toString()).toBe("second");
  });

  it("turns a form into the object a JSON body would give", async () => {
    const form = new FormData();
    form.append("prompt", "x");
    form.append("n", "3");
    form.append("output_compression", "eighty");
    form.append("save_source_image", "true");
    form.append("image", new Blob([png]), "a.png");
    form.append("mask", "https://example.com/mask.png");
    const { body, type } = await encode(form);
    const out = formObject(parseMultipart(body, type), shape);
    expect(out).toMatchObject({ prompt: "x", n: 3, output_compression: "eighty", save_source_image: true });
    expect(out.image).toBeInstanceOf(UploadedFile);
    expect(out.mask).toBe("https://example.com/mask.png");

    const many = new FormData();
    many.append("image[]", new Blob([png]), "a.png");
    const one = await encode(many);
    expect(Array.isArray(formObject(parseMultipart(one.body, one.type), shape).image)).toBe(true);
  });

  it("refuses a field given twice, a file where a value belongs, and repeated scalars", async () => {
    for (const build of [
      (f: FormData) => {
        f.append("n", "1");
        f.append("n", "2");
      },
      (f: FormData) => f.append("prompt", new Blob(["x"]), "prompt.txt"),
      (f: FormData) => f.append("prompt[]", "x"),
    ]) {
      const form = new FormData();
      build(form);
      const { body, type } = await encode(form);
      expect(problem(() => formObject(parseMultipart(body, type), shape))).toMatch(/prompt|'n'/);
    }
  });

  it("gives a 400 for every truncation of a valid body", async () => {
    const form = new FormData();
    form.append("prompt", "hello");
    form.append("image", new Blob([png]), "a.png");
    const { body, type } = await encode(form);
    const complete = body.lastIndexOf("--\r\n") + 2; // through the close delimiter
    for (let cut = 0; cut < complete; cut++) {
      expect(problem(() => parseMultipart(body.subarray(0, cut), type))).toMatch(/malformed/);
    }
    expect(parseMultipart(body.subarray(0, complete), type)).toHaveLength(2);
  });

  it("names what is wrong with malformed bodies", () => {
    const b = (s: string) => Buffer.from(s, "latin1");
    const t = "multipart/form-data; boundary=XX";
    expect(problem(() => parseMultipart(b("x"), "multipart/form-data"))).toMatch(/no boundary/);
    expect(problem(() => parseMultipart(b("nothing here"), t))).toMatch(/no part starts/);
    expect(problem(() => parseMultipart(b("--XX\r\nNo-Colon\r\n\r\nv\r\n--XX--"), t))).toMatch(/header line/);
    expect(problem(() => parseMultipart(b("--XX\r\nX-A: b\r\n\r\nv\r\n--XX--"), t))).toMatch(/Content-Disp/);
    expect(
      problem(() =>
        parseMultipart(b('--XX\r\nContent-Disposition: form-data; filename="a"\r\n\r\nv\r\n--XX--'), t),
      ),
    ).toMatch(/no name/);
    const many = `${"--XX\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n".repeat(5)}--XX--`;
    expect(problem(() => parseMultipart(b(many), t, { maxParts: 4, maxHeaderBytes: 100 }))).toMatch(
      /more than 4/,
    );
    // A quoted boundary, a preamble and an epilogue are all fine.
    const ok =
      'preamble\r\n--a b\r\nContent-Disposition: form-data; name="k"\r\n\r\nv\r\n--a b--\r\nepilogue';
    expect(parseMultipart(b(ok), 'multipart/form-data; boundary="a b"')[0]?.data.toString()).toBe("v");
  });

  it("never fails with anything but a 400 on arbitrary bytes", () => {
    const t = "multipart/form-data; boundary=XX";
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.constantFrom(
              "--XX",
              "\r\n",
              "--",
              'Content-Disposition: form-data; name="a"',
              ":",
              "\r\n\r\n",
            ),
            fc.string(),
          ),
        ),
        (pieces) => {
          try {
            parseMultipart(Buffer.from(pieces.join("")), t);
          } catch (err) {
            expect(err).toBeInstanceOf(InvalidRequestError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
