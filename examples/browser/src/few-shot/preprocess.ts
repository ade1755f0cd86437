/**
 * Drawing → model input, exactly as Concord's Omniglot loader made the training images
 * (OMNIGLOT_PREPROCESSING in @concord/tasks, carried in model.json): a 105×105 drawing, black strokes on white, as grey values
 * in [0, 1]; made 1-bit like Omniglot's PNGs (threshold ½); area-resized to 28×28 with the loader's own
 * resizeArea; inverted (strokes 1, background 0); quantised to 8 bits and read back as v/255.
 * Pure functions of arrays, so the Node test runs this very module on the real PNGs and compares
 * with the training pipeline's pixels.
 */
import { resizeArea } from "@concord/tasks";

/** Side of the drawing canvas's backing store: Omniglot's drawings are 105×105. */
export const DRAWING_SIZE = 105;
/** Side of the model input. */
export const INPUT_SIZE = 28;
/**
 * Pen width in drawing pixels, matched to Omniglot's strokes at 105×105: over 100 evaluation-set
 * drawings the width estimate 2·(ink pixels)/(ink–background pixel edges) has median 4.4 (p10 4.1,
 * p90 4.8); the same estimate on synthetic round-capped lines gives 3.5 for width 4.5 and 4.6 for 5.
 */
export const STROKE_WIDTH = 5;

/** RGBA bytes of a 105×105 canvas → grey values in [0, 1] (white 1), made 1-bit like the PNGs. */
export function greyFromRgba(rgba: ArrayLike<number>, pixelCount = DRAWING_SIZE * DRAWING_SIZE): Float32Array {
  const grey = new Float32Array(pixelCount);
  for (let n = 0; n < pixelCount; n++) {
    // Same luminance weights as @concord/tasks/node's decodeImage for RGB(A) images; transparent = white.
    const alpha = rgba[4 * n + 3]! / 255;
    const luminance = (0.299 * rgba[4 * n]! + 0.587 * rgba[4 * n + 1]! + 0.114 * rgba[4 * n + 2]!) / 255;
    const value = alpha * luminance + (1 - alpha);
    grey[n] = value >= 0.5 ? 1 : 0;
  }
  return grey;
}

/** 105×105 grey values (white 1) → the 28×28×1 model input (strokes 1), HWC. */
export function drawingToInput(grey: ArrayLike<number>): Float32Array {
  const resized = resizeArea(grey, [DRAWING_SIZE, DRAWING_SIZE, 1], [INPUT_SIZE, INPUT_SIZE]);
  const input = new Float32Array(INPUT_SIZE * INPUT_SIZE);
  for (let i = 0; i < input.length; i++) {
    const value = 1 - resized[i]!;
    input[i] = Math.round(255 * Math.min(1, Math.max(0, value))) / 255;
  }
  return input;
}

/** True when a drawing has any ink. */
export function hasInk(grey: ArrayLike<number>): boolean {
  for (let i = 0; i < grey.length; i++) if (grey[i]! < 0.5) return true;
  return false;
}
