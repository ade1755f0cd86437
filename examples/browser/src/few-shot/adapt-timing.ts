/**
 * Issue 24's figure, measured in the page: how long fewShotClassifier's adapt() takes for an N-way
 * K-shot support set (20-way 5-shot: 100 drawings) on the page's backend. The drawings are seeded
 * random pen strokes on 105×105 canvases (the time does not depend on what is drawn).
 */
import * as tf from "@tensorflow/tfjs-core";
import { createRng } from "@concord/core";
import { fewShotClassifier } from "@concord/deploy";
import { DRAWING_SIZE, STROKE_WIDTH } from "./drawing-pad.js";

export interface AdaptTiming {
  readonly backend: string;
  readonly ways: number;
  readonly shots: number;
  /** Wall-clock ms of the addExample calls (preprocessing of every drawing). */
  readonly addExamplesMs: number;
  /** Wall-clock ms of each adapt() call, in order (the first includes kernel warm-up). */
  readonly adaptMs: number[];
  /**
   * The longest time the page's event loop was held during each adapt() call: the largest gap between
   * two turns of a heartbeat that re-posts itself as a macrotask (what a click or a frame would wait).
   */
  readonly longestBlockMs: number[];
  /** Median ms of predict() on one drawing. */
  readonly predictMs: number;
  /** Tensors alive after the classifier was disposed, minus before it was made (0 = no leak). */
  readonly leakedTensors: number;
}

export async function timeAdaptation(modelUrl: string, ways = 20, shots = 5, runs = 4, seed = 24): Promise<AdaptTiming> {
  await tf.ready();
  const before = tf.memory().numTensors;
  const rng = createRng(seed);
  const classifier = await fewShotClassifier(modelUrl);
  let timing: Omit<AdaptTiming, "leakedTensors">;
  try {
    const drawings = Array.from({ length: ways }, () => Array.from({ length: shots }, () => randomDrawing(rng)));
    const begin = performance.now();
    drawings.forEach((examples, c) => {
      for (const drawing of examples) classifier.addExample(`class ${c}`, drawing);
    });
    const addExamplesMs = performance.now() - begin;
    const adaptMs: number[] = [];
    const longestBlockMs: number[] = [];
    for (let run = 0; run < runs; run++) {
      const heartbeat = startHeartbeat();
      const start = performance.now();
      await classifier.adapt();
      adaptMs.push(performance.now() - start);
      longestBlockMs.push(heartbeat.stop());
    }
    const predictions: number[] = [];
    for (const drawing of drawings.map((examples) => examples[0]!)) {
      const start = performance.now();
      classifier.predict(drawing);
      predictions.push(performance.now() - start);
    }
    predictions.sort((a, b) => a - b);
    timing = { backend: tf.getBackend(), ways, shots, addExamplesMs, adaptMs, longestBlockMs, predictMs: predictions[Math.floor(predictions.length / 2)]! };
  } finally {
    classifier.dispose();
  }
  return { ...timing, leakedTensors: tf.memory().numTensors - before };
}

/** A macrotask that re-posts itself through a MessageChannel (not clamped like nested setTimeout) and keeps the largest gap between its turns. */
function startHeartbeat(): { stop(): number } {
  const channel = new MessageChannel();
  let last = performance.now();
  let longest = 0;
  let running = true;
  channel.port1.onmessage = () => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (running) channel.port2.postMessage(null);
  };
  channel.port2.postMessage(null);
  return {
    stop() {
      running = false;
      longest = Math.max(longest, performance.now() - last);
      channel.port1.close();
      return longest;
    },
  };
}

function randomDrawing(rng: ReturnType<typeof createRng>): ImageData {
  const canvas = new OffscreenCanvas(DRAWING_SIZE, DRAWING_SIZE);
  const context = canvas.getContext("2d")!;
  context.fillStyle = "#fff";
  context.fillRect(0, 0, DRAWING_SIZE, DRAWING_SIZE);
  context.strokeStyle = "#000";
  context.lineWidth = STROKE_WIDTH;
  context.lineCap = "round";
  for (let stroke = 0; stroke < 3; stroke++) {
    context.beginPath();
    context.moveTo(rng.uniform(15, 90), rng.uniform(15, 90));
    for (let point = 0; point < 3; point++) context.lineTo(rng.uniform(15, 90), rng.uniform(15, 90));
    context.stroke();
  }
  return context.getImageData(0, 0, DRAWING_SIZE, DRAWING_SIZE);
}
