// The mask painter: a canvas over the image, at the image's own resolution, painted with pointer events
// (mouse, pen or touch). Painted pixels are the area to change; the API wants them transparent in the mask.

export class MaskPainter {
  readonly canvas: HTMLCanvasElement;
  readonly #ctx: CanvasRenderingContext2D;
  tool: "brush" | "eraser" = "brush";
  /** Brush diameter in screen pixels; scaled to image pixels while painting. */
  size = 48;
  #last: { x: number; y: number } | undefined;

  constructor(canvas: HTMLCanvasElement) {
    this.canvas = canvas;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    if (!ctx) throw new Error("This browser has no 2D canvas.");
    this.#ctx = ctx;
    canvas.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      canvas.setPointerCapture(e.pointerId);
      this.#last = this.#point(e);
      this.#stroke(this.#last, this.#last);
      e.preventDefault();
    });
    canvas.addEventListener("pointermove", (e) => {
      if (!this.#last) return;
      const p = this.#point(e);
      this.#stroke(this.#last, p);
      this.#last = p;
    });
    const end = () => {
      this.#last = undefined;
    };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
  }

  /** A fresh, empty mask for an image of this size. */
  reset(width: number, height: number): void {
    this.canvas.width = width;
    this.canvas.height = height;
    this.clear();
  }

  clear(): void {
    this.#ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }

  isEmpty(): boolean {
    const { data } = this.#ctx.getImageData(0, 0, this.canvas.width, this.canvas.height);
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return false;
    return true;
  }

  /** The mask as the API takes it: an opaque PNG of the image's size, transparent where painted. */
  toDataUrl(): string {
    const out = document.createElement("canvas");
    out.width = this.canvas.width;
    out.height = this.canvas.height;
    const ctx = out.getContext("2d");
    if (!ctx) throw new Error("This browser has no 2D canvas.");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, out.width, out.height);
    ctx.globalCompositeOperation = "destination-out";
    ctx.drawImage(this.canvas, 0, 0);
    return out.toDataURL("image/png");
  }

  #point(e: PointerEvent): { x: number; y: number } {
    const rect = this.canvas.getBoundingClientRect();
    return {
      x: ((e.clientX - rect.left) * this.canvas.width) / rect.width,
      y: ((e.clientY - rect.top) * this.canvas.height) / rect.height,
    };
  }

  #stroke(from: { x: number; y: number }, to: { x: number; y: number }): void {
    const ctx = this.#ctx;
    const scale = this.canvas.width / Math.max(1, this.canvas.getBoundingClientRect().width);
    ctx.globalCompositeOperation = this.tool === "eraser" ? "destination-out" : "source-over";
    ctx.strokeStyle = "#ff2d6f";
    ctx.lineWidth = this.size * scale;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
  }
}
