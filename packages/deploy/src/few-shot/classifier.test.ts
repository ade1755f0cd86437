// fewShotClassifier in Node, over small conv-net exports written to a folder: a ProtoNet export
// (an embedding, ways 0) and a MAML export (with a head, Proto-MAML). Probabilities are checked
// against the float64 reference conv net with support-set statistics.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, createRng, flattenParams, type Params } from "@concord/core";
import { type ConvNetOptions, convNet } from "@concord/models";
import { OMNIGLOT_PREPROCESSING } from "@concord/tasks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ReferenceBatch, referenceConvNet, referenceForward } from "../../../models/src/testing/reference-conv-net.js";
import { type MetaModelSpec, metaModelArtifacts, type RgbaImage } from "../index.js";
import { fewShotClassifier, folderHandler, saveMetaModel } from "../node/index.js";
import type { FewShotClassifier } from "./classifier.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const architecture = { inputShape: [12, 12, 1] as [number, number, number], filters: 6, blocks: 2 };
const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});
const newFolder = () => {
  const folder = mkdtempSync(join(tmpdir(), "concord-few-shot-"));
  folders.push(folder);
  return folder;
};

/** Writes a conv-net export with random (every entry perturbed) parameters; returns its folder and θ. */
async function writeExport(ways: number, seed: number, innerSteps = 2): Promise<{ dir: string; theta: Float64Array }> {
  const options = { ways, ...architecture, batchNorm: ways === 0 ? "support" : "transductive" };
  const model = convNet(options as unknown as ConvNetOptions);
  const rng = createRng(seed);
  const init = model.init(rng);
  const params: Params = Object.fromEntries(
    Object.entries(init).map(([name, value]) => [name, tf.tidy(() => tf.add(value, tf.tensor(rng.normalArray(value.size, 0.2), value.shape, "float32")))]),
  );
  const spec: MetaModelSpec = {
    model: { name: "conv-net", options },
    objective: { name: "cross-entropy", options: {} },
    innerOptimizer: { name: "sgd", options: { lr: 0.05 } },
    innerSteps,
    inputShape: architecture.inputShape,
    labelCount: ways,
    // Omniglot's preprocessing, at this small model's input size (the loader checks they agree).
    preprocessing: {
      ...(OMNIGLOT_PREPROCESSING as Extract<typeof OMNIGLOT_PREPROCESSING, { kind: "omniglot-drawing" }>),
      size: [architecture.inputShape[0]!, architecture.inputShape[1]!],
    },
    training: null,
    evaluation: null,
  };
  const dir = newFolder();
  await saveMetaModel(dir, metaModelArtifacts(params, spec));
  const theta = Float64Array.from(flattenParams(params).dataSync());
  tf.dispose([...Object.values(init), ...Object.values(params)]);
  return { dir, theta };
}

/** A 40×40 "drawing": dark strokes (a class-specific set of bars plus noise) on white, RGBA. */
function drawing(classIndex: number, variant: number, size = 40): RgbaImage {
  const rng = createRng(1000 * classIndex + variant);
  const data = new Uint8ClampedArray(size * size * 4).fill(255);
  const ink = (x: number, y: number) => data.fill(0, 4 * (y * size + x), 4 * (y * size + x) + 3);
  const bars = createRng(classIndex + 7);
  for (let bar = 0; bar < 3; bar++) {
    const vertical = bars.uniform(0, 1) < 0.5;
    const at = bars.int(size - 6) + 3;
    const from = bars.int(size / 2);
    for (let t = from; t < from + size / 2; t++) for (let w = 0; w < 3; w++) vertical ? ink(at + w, t) : ink(t, at + w);
  }
  for (let n = 0; n < 12; n++) ink(rng.int(size), rng.int(size));
  return { data, width: size, height: size };
}

/** The model input the classifier makes of `image`, as a float64 reference batch row. */
function asReference(classifierInputs: tf.Tensor[]): ReferenceBatch {
  const x = Float64Array.from(tf.tidy(() => tf.stack(classifierInputs)).dataSync());
  return { x, count: classifierInputs.length, labels: [] };
}

/** p(k | query) = softmax_k(−‖e_q − c_k‖²) in float64, from the reference embedding with support statistics. */
function referenceProbabilities(theta: Float64Array, support: ReferenceBatch, supportClasses: number[], query: ReferenceBatch, classes: number): number[] {
  const net = referenceConvNet({ ...architecture, ways: 0 });
  const s = referenceForward(net, theta, support, support);
  const q = referenceForward(net, theta, query, support);
  const d = s.length / support.count;
  const prototypes = Array.from({ length: classes }, () => new Float64Array(d));
  const counts = new Array<number>(classes).fill(0);
  supportClasses.forEach((k, i) => {
    counts[k]! += 1;
    for (let j = 0; j < d; j++) prototypes[k]![j]! += s[i * d + j]!;
  });
  const logits = prototypes.map((c, k) => -c.reduce((sum, value, j) => sum + (q[j]! - value / counts[k]!) ** 2, 0));
  const max = Math.max(...logits);
  const exps = logits.map((z) => Math.exp(z - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

async function growth(body: () => Promise<void>, iterations: number): Promise<number> {
  await body();
  const before = tf.memory().numTensors;
  for (let i = 0; i < iterations; i++) await body();
  return tf.memory().numTensors - before;
}

const imageInput = (image: RgbaImage) => tf.tidy(() => tf.tensor3d(Array.from(imageToModelInput(image)), [12, 12, 1]));
let imageToModelInput: (image: RgbaImage) => Float32Array;

describe("fewShotClassifier with a ProtoNet export", () => {
  let protoExport: { dir: string; theta: Float64Array };
  beforeAll(async () => {
    protoExport = await writeExport(0, 1);
    const { imageToInput } = await import("./image-input.js");
    imageToModelInput = (image) => tf.tidy(() => imageToInput(image, architecture.inputShape, OMNIGLOT_PREPROCESSING).dataSync() as Float32Array);
  });

  for (const [classes, shots] of [
    [2, 1],
    [5, 3],
    [10, 1],
    [20, 2],
  ] as const) {
    it(`learns ${classes} classes from ${shots} example(s) each: probabilities of the float64 prototype classifier`, async () => {
      const classifier = await fewShotClassifier(protoExport.dir);
      expect(classifier.method).toBe("prototypes");
      const supportInputs: tf.Tensor[] = [];
      const supportClasses: number[] = [];
      for (let k = 0; k < classes; k++) {
        for (let shot = 0; shot < shots; shot++) {
          classifier.addExample(`class ${k}`, drawing(k, shot));
          supportInputs.push(imageInput(drawing(k, shot)));
          supportClasses.push(k);
        }
      }
      await classifier.adapt();
      const support = asReference(supportInputs);
      for (let k = 0; k < classes; k += Math.ceil(classes / 4)) {
        const query = drawing(k, 99);
        const prediction = classifier.predict(query);
        const expected = referenceProbabilities(protoExport.theta, support, supportClasses, asReference([imageInput(query)]), classes);
        const got = classifier.labels.map((label) => prediction.probabilities[label]!);
        expect(Math.max(...got.map((p, i) => Math.abs(p - expected[i]!)))).toBeLessThan(1e-4);
        expect(prediction.label).toBe(`class ${expected.indexOf(Math.max(...expected))}`);
        expect(got.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      }
      tf.dispose(supportInputs);
      classifier.dispose();
    });
  }

  it("predicts one image independently of whatever else is predicted", async () => {
    const classifier = await fewShotClassifier(protoExport.dir);
    for (let k = 0; k < 4; k++) classifier.addExample(String(k), drawing(k, 0));
    await classifier.adapt();
    const first = classifier.predict(drawing(2, 5));
    for (let k = 0; k < 4; k++) classifier.predict(drawing(k, 7));
    expect(classifier.predict(drawing(2, 5))).toEqual(first);
    classifier.dispose();
  });

  it("gives equal predictions after save → load, into a new classifier over the same export", async () => {
    const classifier = await fewShotClassifier(protoExport.dir);
    for (let k = 0; k < 3; k++) for (let shot = 0; shot < 2; shot++) classifier.addExample(`c${k}`, drawing(k, shot));
    await classifier.adapt();
    const folder = newFolder();
    await classifier.save(folderHandler(folder));
    const queries = [0, 1, 2].map((k) => drawing(k, 42));
    const before = queries.map((query) => classifier.predict(query));
    const restored = await fewShotClassifier(protoExport.dir);
    await restored.load(folderHandler(folder));
    expect(restored.labels).toEqual(["c0", "c1", "c2"]);
    expect(restored.exampleCounts).toEqual({ c0: 2, c1: 2, c2: 2 });
    expect(queries.map((query) => restored.predict(query))).toEqual(before);
    // The examples came back too: adapting again gives the same classifier.
    await restored.adapt();
    const again = queries.map((query) => restored.predict(query));
    again.forEach((prediction, i) => {
      expect(prediction.label).toBe(before[i]!.label);
      for (const label of restored.labels) expect(prediction.probabilities[label]).toBeCloseTo(before[i]!.probabilities[label]!, 5);
    });
    // State saved over another export is refused.
    const other = await fewShotClassifier((await writeExport(0, 2)).dir);
    await expect(other.load(folderHandler(folder))).rejects.toMatchObject({ name: "ConcordError", message: /this very export/ });
    [classifier, restored, other].forEach((c) => c.dispose());
  });

  it("rejects bad input with ConcordErrors naming the field", async () => {
    const classifier = await fewShotClassifier(protoExport.dir);
    const field = async (run: () => unknown) => {
      try {
        await run();
      } catch (error) {
        expect(error).toBeInstanceOf(ConcordError);
        return (error as ConcordError).field;
      }
      throw new Error("expected a ConcordError");
    };
    expect(await field(() => classifier.adapt())).toBe("examples");
    expect(await field(() => classifier.predict(drawing(0, 0)))).toBe("adapt");
    expect(await field(() => classifier.addExample("", drawing(0, 0)))).toBe("label");
    expect(await field(() => classifier.addExample("a", { data: new Uint8ClampedArray(10), width: 4, height: 4 }))).toBe("image");
    expect(await field(() => classifier.addExample("a", tf.zeros([11, 12, 1])))).toBe("image");
    expect(await field(() => classifier.addExample("a", "picture.png" as never))).toBe("image");
    classifier.addExample("a", drawing(0, 0));
    expect(await field(() => classifier.removeExample("b", 0))).toBe("label");
    expect(await field(() => classifier.removeExample("a", 1))).toBe("index");
    expect(await field(() => classifier.clearClass("b"))).toBe("label");
    classifier.addExample("b", tf.zeros([1, 12, 12, 1]));
    await classifier.adapt();
    classifier.clearClass("a");
    expect(classifier.labels).toEqual(["b"]);
    expect(await field(() => classifier.predict(drawing(0, 0)))).toBe("adapt");
    classifier.removeExample("b", 0);
    expect(await field(() => classifier.adapt())).toBe("examples");
    classifier.dispose();
    expect(await field(() => classifier.addExample("a", drawing(0, 0)))).toBe("classifier");
  });

  it("yields to the event loop while adapting, reports progress, and leaks no tensors", async () => {
    const classifier = await fewShotClassifier(protoExport.dir, { chunkSize: 2, sliceMs: 0.001 });
    for (let k = 0; k < 5; k++) for (let shot = 0; shot < 2; shot++) classifier.addExample(`k${k}`, drawing(k, shot));
    let ticks = 0;
    const timer = setInterval(() => (ticks += 1), 0);
    const progress: number[] = [];
    let total = 0;
    await classifier.adapt({
      onStep: (step) => {
        progress.push(step.done);
        total = step.total;
      },
    });
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
    // 10 images in chunks of 2, one pass: per block (2), each chunk's moments then its output (5 + 5).
    expect(total).toBe(20);
    expect(progress).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const query = drawing(3, 9);
    expect(await growth(async () => void classifier.predict(query), 3)).toBe(0);
    expect(await growth(() => classifier.adapt(), 2)).toBe(0);
    const folder = newFolder();
    expect(
      await growth(async () => {
        await classifier.save(folderHandler(folder));
        await classifier.load(folderHandler(folder));
      }, 2),
    ).toBe(0);
    const before = tf.memory().numTensors;
    classifier.addExample("k9", drawing(9, 0));
    classifier.removeExample("k9", 0);
    expect(tf.memory().numTensors).toBe(before - (classifier.isAdapted ? 0 : classifierStateTensors(classifier)));
    classifier.dispose();
  });
});

describe("fewShotClassifier: examples changed while adapting", () => {
  it("discards that adapt()'s result with a ConcordError and leaks nothing", async () => {
    const { dir } = await writeExport(0, 5);
    const classifier = await fewShotClassifier(dir, { chunkSize: 1, sliceMs: 0.001 });
    for (let k = 0; k < 3; k++) classifier.addExample(`k${k}`, drawing(k, 0));
    const before = tf.memory().numTensors;
    const running = classifier.adapt();
    await new Promise((resolve) => setTimeout(resolve, 0));
    classifier.addExample("k3", drawing(3, 0));
    await expect(running).rejects.toMatchObject({ name: "ConcordError", field: "examples" });
    expect(classifier.isAdapted).toBe(false);
    expect(tf.memory().numTensors).toBe(before + 1); // the new example only
    await classifier.adapt();
    expect(classifier.labels).toEqual(["k0", "k1", "k2", "k3"]);
    expect(classifier.predict(drawing(3, 0)).label).toBe("k3");
    classifier.dispose();
  });
});

/** Tensors held by an adapted ProtoNet classifier's state (statistics per block ×2, prototypes). */
function classifierStateTensors(_classifier: FewShotClassifier): number {
  return 2 * architecture.blocks + 1;
}

describe("fewShotClassifier with a MAML export (Proto-MAML)", () => {
  it("with 0 fine-tuning steps equals the prototype classifier of its body (W = 2c, b = −‖c‖²)", async () => {
    const mamlExport = await writeExport(5, 3, 0);
    const classifier = await fewShotClassifier(mamlExport.dir);
    expect(classifier.method).toBe("proto-maml");
    const supportInputs: tf.Tensor[] = [];
    for (let k = 0; k < 3; k++) {
      classifier.addExample(`m${k}`, drawing(k, 0));
      supportInputs.push(imageInput(drawing(k, 0)));
    }
    await classifier.adapt();
    const query = drawing(1, 50);
    const bodyTheta = mamlExport.theta.subarray(0, mamlExport.theta.length - (6 * 3 * 3 * 5 + 5));
    const expected = referenceProbabilities(Float64Array.from(bodyTheta), asReference(supportInputs), [0, 1, 2], asReference([imageInput(query)]), 3);
    const got = classifier.predict(query);
    expect(Math.max(...expected.map((p, k) => Math.abs(p - got.probabilities[`m${k}`]!)))).toBeLessThan(1e-4);
    tf.dispose(supportInputs);
    classifier.dispose();
  });

  it("fine-tunes all 12 classes (more than the export's 5) from 2 examples each, and round-trips through save/load", async () => {
    const mamlExport = await writeExport(5, 4, 3);
    const classifier = await fewShotClassifier(mamlExport.dir, { chunkSize: 5 });
    for (let k = 0; k < 12; k++) for (let shot = 0; shot < 2; shot++) classifier.addExample(`m${k}`, drawing(k, shot));
    const steps: { done: number; total: number }[] = [];
    await classifier.adapt({ onStep: (step) => steps.push(step) });
    // Progress counts every piece of work once and ends at its total.
    expect(steps.map((step) => step.done)).toEqual(Array.from({ length: steps.length }, (_, i) => i + 1));
    expect(steps.every((step) => step.total === steps.length)).toBe(true);
    // The examples themselves are classified as their own class after fine-tuning.
    const correct = Array.from({ length: 12 }, (_, k) => classifier.predict(drawing(k, 0)).label === `m${k}`).filter(Boolean).length;
    expect(correct).toBe(12);
    const folder = newFolder();
    await classifier.save(folderHandler(folder));
    const restored = await fewShotClassifier(mamlExport.dir);
    await restored.load(folderHandler(folder));
    const query = drawing(4, 77);
    expect(restored.predict(query)).toEqual(classifier.predict(query));
    expect(await growth(() => classifier.adapt(), 1)).toBe(0);
    classifier.dispose();
    restored.dispose();
  });
});
