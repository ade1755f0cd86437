/**
 * A 105×105 drawing canvas (shown larger) for mouse, pen and touch: black ink on white. The canvas
 * itself goes to fewShotClassifier, whose export preprocessing ("omniglot-drawing") makes it a model
 * input exactly as the Omniglot loader made the training images.
 */

/** Side of the canvas's backing store: Omniglot's drawings are 105×105. */
export const DRAWING_SIZE = 105;
/**
 * Pen width in drawing pixels, matched to Omniglot's strokes at 105×105: over 100 evaluation-set
 * drawings the width estimate 2·(ink pixels)/(ink–background pixel edges) has median 4.4 (p10 4.1,
 * p90 4.8); the same estimate on synthetic round-capped lines gives 3.5 for width 4.5 and 4.6 for 5.
 */
export const STROKE_WIDTH = 5;

export class DrawingPad {
  readonly canvas: HTMLCanvasElement;
  private readonly context: CanvasRenderingContext2D;
  private last: { x: number; y: number } | undefined;

  /** `onChange` runs when a stroke ends or the pad is cleared or filled. */
  constructor(
    parent: HTMLElement,
    private readonly onChange: () => void,
  ) {
    this.canvas = document.createElement("canvas");
    this.canvas.width = DRAWING_SIZE;
    this.canvas.height = DRAWING_SIZE;
    this.canvas.className = "pad";
    parent.append(this.canvas);
    this.context = this.canvas.getContext("2d", { willReadFrequently: true })!;
    this.clear(false);
    this.canvas.addEventListener("pointerdown", (event) => {
      this.canvas.setPointerCapture(event.pointerId);
      this.last = this.toCanvas(event);
      this.dot(this.last);
    });
    this.canvas.addEventListener("pointermove", (event) => {
      if (!this.last) return;
      const point = this.toCanvas(event);
      this.line(this.last, point);
      this.last = point;
    });
    const end = () => {
      if (!this.last) return;
      this.last = undefined;
      this.onChange();
    };
    this.canvas.addEventListener("pointerup", end);
    this.canvas.addEventListener("pointercancel", end);
  }

  /** The drawing's RGBA pixels (what the classifier is given). */
  pixels(): ImageData {
    return this.context.getImageData(0, 0, DRAWING_SIZE, DRAWING_SIZE);
  }

  /** True when no pixel is darker than mid-grey (the classifier's ink threshold). */
  get isEmpty(): boolean {
    const data = this.pixels().data;
    for (let i = 0; i < data.length; i += 4) if (data[i]! < 128) return false;
    return true;
  }

  clear(notify = true): void {
    this.context.fillStyle = "#fff";
    this.context.fillRect(0, 0, DRAWING_SIZE, DRAWING_SIZE);
    if (notify) this.onChange();
  }

  /** Paints an image (e.g. an Omniglot PNG, 105×105) onto the pad at its own size. */
  async drawImage(url: string): Promise<void> {
    const image = new Image();
    image.src = url;
    await image.decode();
    this.clear(false);
    this.context.imageSmoothingEnabled = false;
    this.context.drawImage(image, 0, 0, DRAWING_SIZE, DRAWING_SIZE);
    this.onChange();
  }

  private toCanvas(event: PointerEvent): { x: number; y: number } {
    const box = this.canvas.getBoundingClientRect();
    return { x: ((event.clientX - box.left) / box.width) * DRAWING_SIZE, y: ((event.clientY - box.top) / box.height) * DRAWING_SIZE };
  }

  private dot(point: { x: number; y: number }): void {
    this.context.fillStyle = "#000";
    this.context.beginPath();
    this.context.arc(point.x, point.y, STROKE_WIDTH / 2, 0, 2 * Math.PI);
    this.context.fill();
  }

  private line(from: { x: number; y: number }, to: { x: number; y: number }): void {
    this.context.strokeStyle = "#000";
    this.context.lineWidth = STROKE_WIDTH;
    this.context.lineCap = "round";
    this.context.lineJoin = "round";
    this.context.beginPath();
    this.context.moveTo(from.x, from.y);
    this.context.lineTo(to.x, to.y);
    this.context.stroke();
  }
}
