// Evaluates a shipped export through fewShotClassifier exactly as an app uses it: raw RGBA drawings
// (Omniglot's 105×105 PNGs of held-out test-split characters, decoded to RGBA bytes), one
// addExample per support drawing, adapt(), then predict() on ONE query drawing at a time.
// Per setting (N-way K-shot): `--tasks` episodes (default 600) drawn with a fixed seed from MAML's
// test split (the 423 characters never seen in training); accuracy per task and mean ± 1.96·s/√n.
// Also checks that the classifier's input for every drawing used equals the training loader's pixels,
// and measures the longest the event loop was held during adapt().
//
//   node scripts/few-shot-eval.mjs --export results/protonet/export --out results/protonet [--tasks 600] [--backend native]
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "@concord/backend";
import { createRng } from "@concord/core";
import { imageToInput } from "@concord/deploy";
import { fewShotClassifier } from "@concord/deploy/node";
import { planEpisode } from "@concord/tasks";
import { decodeImage, loadOmniglot } from "@concord/tasks/node";

const { values } = parseArgs({
  options: {
    export: { type: "string" },
    out: { type: "string" },
    data: { type: "string", default: resolve(import.meta.dirname, "../../../../shared/data/omniglot") },
    tasks: { type: "string", default: "600" },
    queries: { type: "string", default: "5" },
    seed: { type: "string", default: "12345" },
    settings: { type: "string", default: "5x1,5x5,20x1,20x5" },
    backend: { type: "string", default: "native" },
  },
});
if (!values.export || !values.out) throw new Error("usage: few-shot-eval.mjs --export <folder> --out <folder> [--tasks 600] [--queries 5] [--settings 5x1,20x1] [--backend native]");
const taskCount = Number(values.tasks);
const queryShots = Number(values.queries);
const seed = Number(values.seed);
const backend = await useBackend(values.backend);

const omniglot = await loadOmniglot(values.data);
const test = omniglot.mamlSplit().test; // the loader's MAML split: seed 1, 1200 training characters, rotations
const drawingCache = new Map();

/** The PNG of image `imageIndex` of test class `classIndex`, as RGBA bytes (what a canvas would give). */
function rgbaDrawing(classIndex, imageIndex) {
  const key = `${classIndex}/${imageIndex}`;
  const cached = drawingCache.get(key);
  if (cached) return cached;
  const name = test.className(classIndex); // "Alphabet/characterNN"
  const folder = ["images_background", "images_evaluation"].map((set) => join(values.data, set, name)).find((path) => {
    try {
      return readdirSync(path).length > 0;
    } catch {
      return false;
    }
  });
  // The loader's order: file names sorted by code point.
  const files = readdirSync(folder).filter((file) => file.endsWith(".png")).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const file = join(folder, files[imageIndex]);
  const grey = decodeImage(new Uint8Array(readFileSync(file)), file, 1);
  const data = new Uint8ClampedArray(grey.width * grey.height * 4);
  for (let n = 0; n < grey.width * grey.height; n++) {
    const value = Math.round(255 * grey.pixels[n]);
    data[4 * n] = data[4 * n + 1] = data[4 * n + 2] = value;
    data[4 * n + 3] = 255;
  }
  const drawing = { data, width: grey.width, height: grey.height, file };
  drawingCache.set(key, drawing);
  return drawing;
}

const classifier = await fewShotClassifier(resolve(values.export));
const spec = JSON.parse(readFileSync(join(values.export, "model.json"), "utf8")).concord;
const inputSize = test.imageShape[0] * test.imageShape[1];
const loaderPixels = new Float32Array(inputSize);
let pixelMismatches = 0;
let imagesChecked = 0;

/** The classifier's model input for the drawing equals the loader's training pixels (exactly). */
function checkPixels(drawing, classIndex, imageIndex) {
  test.copyImage(classIndex, imageIndex, loaderPixels, 0);
  const mine = tf.tidy(() => imageToInput(drawing, spec.inputShape, spec.preprocessing).dataSync());
  imagesChecked += 1;
  for (let i = 0; i < inputSize; i++) {
    if (mine[i] !== loaderPixels[i]) {
      pixelMismatches += 1;
      return;
    }
  }
}

/** Longest gap between event-loop turns while `work` runs (how long the page would be blocked). */
async function longestBlock(work) {
  let last = performance.now();
  let longest = 0;
  let running = true;
  const tick = () => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  await work();
  running = false;
  longest = Math.max(longest, performance.now() - last);
  return longest;
}

const summary = [];
await mkdir(values.out, { recursive: true });
for (const setting of values.settings.split(",")) {
  const [ways, shots] = setting.split("x").map(Number);
  const rng = createRng(seed);
  const perTask = [];
  const blocks = [];
  const started = performance.now();
  for (let t = 0; t < taskCount; t++) {
    const plan = planEpisode(test, { ways, shots, queryShots }, rng);
    for (const label of classifier.labels) classifier.clearClass(label);
    for (const image of plan.support) {
      const drawing = rgbaDrawing(image.classIndex, image.imageIndex);
      if (t < 20) checkPixels(drawing, image.classIndex, image.imageIndex);
      classifier.addExample(test.className(image.classIndex), drawing);
    }
    blocks.push(await longestBlock(() => classifier.adapt()));
    let correct = 0;
    for (const image of plan.query) {
      const drawing = rgbaDrawing(image.classIndex, image.imageIndex);
      if (t < 20) checkPixels(drawing, image.classIndex, image.imageIndex);
      // One image alone: no batch-mates.
      if (classifier.predict(drawing).label === test.className(image.classIndex)) correct += 1;
    }
    perTask.push(correct / plan.query.length);
    if ((t + 1) % 100 === 0) process.stdout.write(`${setting}: ${t + 1}/${taskCount} tasks, running accuracy ${(100 * mean(perTask)).toFixed(2)}%\n`);
  }
  const { mean: accuracy, ci95 } = meanWithCi95(perTask);
  const record = {
    setting: `${ways}-way ${shots}-shot`,
    ways,
    shots,
    queryShotsPerClass: queryShots,
    taskCount,
    evaluationSeed: seed,
    split: "test (MAML split: 423 characters never trained on, no rotations)",
    protocol: "fewShotClassifier over the export: addExample(raw RGBA drawing) per support image, adapt(), predict() one query drawing at a time",
    accuracy,
    ci95,
    // Wall-clock gaps between event-loop turns during adapt(), on a shared machine (load average below).
    adaptLongestBlockMs: { median: median(blocks), p95: percentile(blocks, 0.95), max: Math.max(...blocks) },
    loadAverage: loadavg(),
    backend,
    seconds: (performance.now() - started) / 1000,
    export: { folder: values.export, iteration: spec.training?.iteration ?? null, model: spec.model },
    perTaskAccuracy: perTask,
  };
  summary.push({ setting: record.setting, accuracy, ci95, taskCount, adaptLongestBlockMs: record.adaptLongestBlockMs, seconds: record.seconds });
  await writeJsonAtomic(join(values.out, `few-shot-${ways}w${shots}s.json`), record);
  process.stdout.write(`${record.setting}: ${(100 * accuracy).toFixed(2)} ± ${(100 * ci95).toFixed(2)}% over ${taskCount} tasks\n`);
}
const pixelCheck = { imagesChecked, pixelMismatches };
await writeJsonAtomic(join(values.out, "few-shot-summary.json"), { backend, exportIteration: spec.training?.iteration ?? null, pixelCheck, settings: summary });
process.stdout.write(`classifier inputs vs loader pixels: ${pixelMismatches} mismatches in ${imagesChecked} drawings\n`);
classifier.dispose();
if (pixelMismatches > 0) process.exitCode = 1;

function mean(list) {
  return list.reduce((a, b) => a + b, 0) / list.length;
}
function median(list) {
  return percentile(list, 0.5);
}
function percentile(list, q) {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
/** Mean and 1.96·s/√n with the sample standard deviation (n − 1), as evaluateAdaptation reports. */
function meanWithCi95(list) {
  const m = mean(list);
  const variance = list.reduce((sum, v) => sum + (v - m) ** 2, 0) / (list.length - 1);
  return { mean: m, ci95: (1.96 * Math.sqrt(variance)) / Math.sqrt(list.length) };
}
async function writeJsonAtomic(path, value) {
  const temp = `${path}.tmp-${process.pid}`;
  await writeFile(temp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(temp, path);
}
