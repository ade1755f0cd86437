import type { InputPreprocessing } from "@concord/core";

/**
 * How the Omniglot loader (@concord/tasks/node) makes a model input from one drawing: decode the 105×105
 * 1-bit PNG to grey values in [0, 1] (white 1), area-resize to 28×28 (each output pixel the
 * overlap-weighted mean of the 3.75×3.75 source pixels under it, like OpenCV's INTER_AREA), invert
 * (1 − v: strokes 1, background 0, as MAML's `1 − x/255`), then store round(255·v) as 8 bits and read
 * it back as that / 255. Nothing else (no mean/std normalisation: the CNN's batch norm does that).
 */
export const OMNIGLOT_PREPROCESSING: InputPreprocessing = {
  kind: "omniglot-drawing",
  source: "Omniglot 105x105 1-bit PNG drawings, black strokes on a white background",
  size: [28, 28],
  resize: "area",
  invert: true,
  quantization: "uint8",
  range: [0, 1],
  description:
    "grey = PNG value / max (white 1, strokes 0); area-resize 105x105 -> 28x28; v = 1 - resized; v = round(255 * clamp(v, 0, 1)) / 255; one channel, HWC",
};
