import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, disposeParams, expect, expectInteger, type Params } from "@concord/core";
import { type BatchNormStatistics, classPrototypes, type ConvNetModel, convNet, prototypeLogits, softmaxCrossEntropy } from "@concord/models";
import type { MetaModelFactories } from "../factories.js";
import { type LoadedMetaModel, loadMetaModel, type MetaModelSource } from "../load.js";
import { chunks, disposeStatistics, type Pause, supportPass, supportPassTicks, timeSlicer } from "./chunked-embedding.js";
import { type ClassifierImage, imageToInput } from "./image-input.js";
import { type AdaptedState, fromArtifacts, type SavedClassifier, toArtifacts } from "./storage.js";

export interface FewShotClassifierOptions {
  /** Extra model/objective/inner-optimizer factories for loading the export (see loadMetaModel). */
  readonly factories?: MetaModelFactories;
  /** Images per piece of work in adapt() (each piece is followed by a chance to yield). Default 4. */
  readonly chunkSize?: number;
  /** adapt() yields to the event loop once this many milliseconds of work have run. Default 20. */
  readonly sliceMs?: number;
}

/** One class's probability for a predicted image, by label. */
export interface Prediction {
  readonly label: string;
  readonly probabilities: Record<string, number>;
}

export interface AdaptProgress {
  /** Pieces of work done / to do (statistics, embeddings, fine-tuning steps). */
  readonly done: number;
  readonly total: number;
}

/**
 * A few-shot classifier for apps, over one meta-trained export, for any number of classes (one
 * upwards) and any number of examples per class:
 * - a ProtoNet export (convNet with ways 0, an embedding): the classifier is the class prototypes
 *   c_k = mean embedding of class k's examples, p(k | x) = softmax(−‖f(x) − c_k‖²) (Snell et al. 2017);
 * - a MAML export (convNet with a head): Proto-MAML (Triantafillou et al. 2020, "Meta-Dataset", sec.
 *   3.2): the export's head is replaced by one initialised from the prototypes, W_k = 2c_k,
 *   b_k = −‖c_k‖² (the same softmax as the prototype classifier), then the whole network is fine-tuned
 *   on the examples with the export's inner optimizer for its `innerSteps` steps. Each step holds the
 *   batch-norm statistics fixed at their value at the step's start, so that its gradient can be summed
 *   over chunks of images (an approximation to differentiating through them).
 * Batch norm always takes its statistics from the examples (the support set), never from the image
 * being classified: predict(image) depends on that image and the examples only.
 * Images go through the export's own preprocessing (see imageToInput).
 */
export class FewShotClassifier {
  private readonly examples = new Map<string, tf.Tensor3D[]>();
  private adapted: AdaptedState | undefined;
  private readonly body: ConvNetModel;
  private readonly bodyParams: Params;
  private readonly chunkSize: number;
  private readonly sliceMs: number;
  private disposed = false;
  /** Bumped by every change of the examples: an adapt() that sees it move discards its result. */
  private revision = 0;

  private constructor(
    private readonly loaded: LoadedMetaModel,
    options: FewShotClassifierOptions,
  ) {
    const model = loaded.model as Partial<ConvNetModel>;
    if (loaded.spec.model.name !== "conv-net" || typeof model.blockMoments !== "function" || model.inputShape === undefined) {
      throw new ConcordError(`expected a conv-net export (the few-shot classifier embeds with its body), got model "${loaded.spec.model.name}"`, {
        field: "model",
      });
    }
    this.chunkSize = options.chunkSize ?? 4;
    this.sliceMs = options.sliceMs ?? 20;
    expectInteger(this.chunkSize, "chunkSize", 1);
    expect(typeof this.sliceMs === "number" && this.sliceMs > 0, "sliceMs", `expected a positive number of milliseconds, got ${JSON.stringify(this.sliceMs)}`);
    // The body: the same network without its head (ways 0), normalised by the support set.
    this.body = convNet({ ...(loaded.spec.model.options as object), ways: 0, batchNorm: model.batchNorm === "none" ? "none" : "support" } as never);
    this.bodyParams = Object.fromEntries(this.body.parameterNames.map((name) => [name, loaded.params[name]!]));
  }

  /** Builds a classifier over a loaded export; it takes ownership of the export's parameters. */
  static fromLoaded(loaded: LoadedMetaModel, options: FewShotClassifierOptions = {}): FewShotClassifier {
    return new FewShotClassifier(loaded, options);
  }

  /** "prototypes" for a ProtoNet (embedding) export, "proto-maml" for an export with a head. */
  get method(): "prototypes" | "proto-maml" {
    return (this.loaded.model as ConvNetModel).ways === 0 ? "prototypes" : "proto-maml";
  }

  /** The class labels, in the order they were first given. */
  get labels(): string[] {
    return [...this.examples.keys()];
  }

  /** Number of examples of each class. */
  get exampleCounts(): Record<string, number> {
    return Object.fromEntries([...this.examples].map(([label, list]) => [label, list.length]));
  }

  /** True when predict() can run: adapt() has finished since the examples last changed. */
  get isAdapted(): boolean {
    return this.adapted !== undefined;
  }

  /** Adds one example of class `label` (any non-empty string; a new label makes a new class). */
  addExample(label: string, image: ClassifierImage): void {
    this.checkAlive();
    expect(typeof label === "string" && label.length > 0, "label", `expected a non-empty string, got ${JSON.stringify(label)}`);
    const input = tf.tidy(() => imageToInput(image, this.loaded.spec.inputShape, this.loaded.spec.preprocessing));
    const list = this.examples.get(label) ?? [];
    list.push(input);
    this.examples.set(label, list);
    this.invalidate();
  }

  /** Removes example `index` (in the order added) of class `label`; the class goes when its last example does. */
  removeExample(label: string, index: number): void {
    this.checkAlive();
    const list = this.classExamples(label);
    expectInteger(index, "index", 0, list.length - 1);
    list.splice(index, 1)[0]!.dispose();
    if (list.length === 0) this.examples.delete(label);
    this.invalidate();
  }

  /** Removes every example of class `label`. */
  clearClass(label: string): void {
    this.checkAlive();
    tf.dispose(this.classExamples(label));
    this.examples.delete(label);
    this.invalidate();
  }

  /**
   * Learns the classes from the examples: support statistics and prototypes (ProtoNet), then for a
   * MAML export the Proto-MAML head and its fine-tuning. Asynchronous, in pieces of `chunkSize`
   * images; it yields to the event loop whenever `sliceMs` of work have run. `onStep` is told after
   * every piece.
   */
  async adapt(options: { onStep?: (progress: AdaptProgress) => void } = {}): Promise<void> {
    this.checkAlive();
    const labels = this.labels;
    if (labels.length === 0) throw new ConcordError("expected examples of at least one class (addExample) before adapt()", { field: "examples" });
    this.invalidate();
    const revision = this.revision;
    const pause = timeSlicer(this.sliceMs);
    const x = tf.stack(labels.flatMap((label) => this.examples.get(label)!)) as tf.Tensor4D;
    const y = tf.tensor1d(
      labels.flatMap((label, k) => this.examples.get(label)!.map(() => k)),
      "int32",
    );
    // Ticks: per support pass, see supportPassTicks; per fine-tuning step, one more per chunk (its gradient).
    const count = x.shape[0];
    const withEmbeddings = supportPassTicks(this.body, count, this.chunkSize, { embeddings: true });
    const statisticsOnly = supportPassTicks(this.body, count, this.chunkSize, { embeddings: false });
    const steps = this.method === "proto-maml" ? this.loaded.innerSteps : 0;
    const total = withEmbeddings + (steps > 0 ? steps * (statisticsOnly + chunks(count, this.chunkSize).length) + statisticsOnly : 0);
    let done = 0;
    const tick: Pause = async () => {
      done += 1;
      options.onStep?.({ done, total });
      await pause();
    };
    try {
      const { statistics, embeddings } = await supportPass(this.body, this.bodyParams, x, this.chunkSize, tick, { embeddings: true });
      const prototypes = tf.tidy(() => classPrototypes(embeddings!, y, labels.length));
      embeddings!.dispose();
      if (this.method === "prototypes") {
        this.settle(revision, { labels, statistics, prototypes });
        return;
      }
      disposeStatistics(statistics);
      const head = tf.tidy(() => ({
        "head/weight": tf.transpose(tf.mul(prototypes, 2)),
        "head/bias": tf.neg(tf.sum(tf.square(prototypes), 1)),
      }));
      prototypes.dispose();
      const tuned = await this.fineTune({ ...this.bodyParams, ...head }, x, y, tick);
      disposeParams(head);
      const { statistics: finalStatistics } = await supportPass(this.body, this.bodyOf(tuned), x, this.chunkSize, tick, { embeddings: false });
      this.settle(revision, { labels, statistics: finalStatistics, params: tuned });
    } finally {
      tf.dispose([x, y]);
    }
  }

  /** Keeps what adapt() learned, unless the examples changed (or the classifier was disposed) meanwhile. */
  private settle(revision: number, state: AdaptedState): void {
    if (revision === this.revision && !this.disposed) {
      this.adapted = state;
      return;
    }
    disposeStatistics(state.statistics);
    tf.dispose(state.prototypes);
    disposeParams(state.params);
    throw new ConcordError("the examples changed while adapting; call adapt() again", { field: "examples" });
  }

  /** `innerSteps` steps of the export's inner optimizer on the mean cross-entropy of the examples (see the class comment). */
  private async fineTune(start: Params, x: tf.Tensor4D, y: tf.Tensor1D, tick: Pause): Promise<Params> {
    const { innerOptimizer, innerSteps } = this.loaded;
    const objective = softmaxCrossEntropy();
    const names = Object.keys(start);
    let params: Params = Object.fromEntries(names.map((name) => [name, tf.clone(start[name]!)]));
    let state = innerOptimizer.init(params);
    const count = x.shape[0];
    for (let step = 0; step < innerSteps; step++) {
      const { statistics } = await supportPass(this.body, this.bodyOf(params), x, this.chunkSize, tick, { embeddings: false });
      let sums: tf.Tensor[] = names.map((name) => tf.zerosLike(params[name]!));
      try {
        for (const [begin, size] of chunks(count, this.chunkSize)) {
          const grads = tf.tidy(() =>
            tf.grads((...values: tf.Tensor[]) => {
              const current = Object.fromEntries(names.map((name, i) => [name, values[i]!]));
              const features = this.body.forward(this.bodyOf(current), tf.slice(x, [begin], [size]), statistics);
              const logits = tf.add(tf.matMul(features, current["head/weight"]!), current["head/bias"]!);
              // This chunk's share of the mean loss over all examples.
              return tf.mul(objective.loss(logits, tf.slice(y, [begin], [size])), size / count);
            })(names.map((name) => params[name]!)),
          );
          const next = sums.map((sum, i) => tf.add(sum, grads[i]!));
          tf.dispose([...sums, ...grads]);
          sums = next;
          await sums[0]!.data();
          await tick();
        }
        const result = tf.tidy(() => {
          const stepped = innerOptimizer.step(params, Object.fromEntries(names.map((name, i) => [name, sums[i]!])), state);
          return { params: stepped.params, state: stepped.state } as unknown as tf.TensorContainer;
        }) as unknown as { params: Params; state: unknown };
        disposeParams(params);
        params = result.params;
        state = result.state;
      } finally {
        tf.dispose(sums);
        disposeStatistics(statistics);
      }
    }
    return params;
  }

  /**
   * The class probabilities of ONE image: softmax over the classes of the prototype logits (or the
   * fine-tuned head's), with batch norm from the examples' statistics, so the result does not depend
   * on anything else being classified. Needs adapt() after the last change of the examples.
   */
  predict(image: ClassifierImage): Prediction {
    this.checkAlive();
    const adapted = this.adapted;
    if (!adapted) {
      throw new ConcordError(
        this.examples.size === 0 ? "expected examples of at least one class and adapt() before predict()" : "expected adapt() after the examples last changed",
        {
          field: "adapt",
        },
      );
    }
    const probabilities = tf.tidy(() => {
      const x = tf.expandDims(imageToInput(image, this.loaded.spec.inputShape, this.loaded.spec.preprocessing), 0);
      const bodyParams = adapted.params ? this.bodyOf(adapted.params) : this.bodyParams;
      const features = this.body.forward(bodyParams, x, adapted.statistics);
      const logits = adapted.prototypes
        ? prototypeLogits(features, adapted.prototypes)
        : tf.add(tf.matMul(features, adapted.params!["head/weight"]!), adapted.params!["head/bias"]!);
      return tf.softmax(logits).dataSync();
    });
    const byLabel: Record<string, number> = {};
    adapted.labels.forEach((label, k) => {
      byLabel[label] = probabilities[k]!;
    });
    let best = 0;
    for (let k = 1; k < probabilities.length; k++) if (probabilities[k]! > probabilities[best]!) best = k;
    return { label: adapted.labels[best]!, probabilities: byLabel };
  }

  /**
   * Saves the examples and, when adapted, what was learned from them (statistics and prototypes, or
   * the fine-tuned parameters) through tf.io: a URL such as "indexeddb://my-classes" or
   * "downloads://my-classes" in a page, or any tf.io IOHandler (Node: folderHandler from
   * @concord/deploy/node). The export itself is not saved; load() needs the same export.
   */
  async save(destination: string | tf.io.IOHandler): Promise<tf.io.SaveResult> {
    this.checkAlive();
    const handler = typeof destination === "string" ? tf.io.getSaveHandlers(destination)[0] : destination;
    if (!handler?.save)
      throw new ConcordError(
        `expected a tf.io URL with a save handler (indexeddb://, downloads://) or an IOHandler, got ${JSON.stringify(String(destination))}`,
        { field: "destination" },
      );
    const saved: SavedClassifier = { examples: this.examples, adapted: this.adapted };
    return handler.save(await toArtifacts(saved, this.loaded));
  }

  /**
   * Replaces the examples and learned state with those saved by save() (a tf.io URL or IOHandler),
   * after checking that they were saved over this very export (same model and parameters).
   * Predictions afterwards equal those before saving.
   */
  async load(source: string | tf.io.IOHandler): Promise<void> {
    this.checkAlive();
    const handler = typeof source === "string" ? tf.io.getLoadHandlers(source)[0] : source;
    if (!handler?.load)
      throw new ConcordError(`expected a tf.io URL with a load handler (indexeddb://) or an IOHandler, got ${JSON.stringify(String(source))}`, {
        field: "source",
      });
    const restored = fromArtifacts(await handler.load(), this.loaded, typeof source === "string" ? source : "source");
    this.clearAll();
    for (const [label, list] of restored.examples) this.examples.set(label, [...list]);
    this.adapted = restored.adapted;
  }

  /** Frees every tensor: the examples, the learned state and the export's parameters. */
  dispose(): void {
    if (this.disposed) return;
    this.clearAll();
    disposeParams(this.loaded.params);
    this.disposed = true;
  }

  /** The body's parameters out of a map that also holds a head. */
  private bodyOf(params: Params): Params {
    return Object.fromEntries(this.body.parameterNames.map((name) => [name, params[name]!]));
  }

  private clearAll(): void {
    for (const list of this.examples.values()) tf.dispose(list);
    this.examples.clear();
    this.invalidate();
  }

  private classExamples(label: string): tf.Tensor3D[] {
    const list = this.examples.get(label);
    if (!list)
      throw new ConcordError(`unknown label ${JSON.stringify(label)}; known: ${this.labels.map((name) => JSON.stringify(name)).join(", ") || "none"}`, {
        field: "label",
      });
    return list;
  }

  private invalidate(): void {
    this.revision += 1;
    if (!this.adapted) return;
    disposeStatistics(this.adapted.statistics);
    tf.dispose(this.adapted.prototypes);
    disposeParams(this.adapted.params);
    this.adapted = undefined;
  }

  private checkAlive(): void {
    if (this.disposed) throw new ConcordError("the classifier was disposed", { field: "classifier" });
  }
}

/**
 * A few-shot classifier over the export at `source` (a URL of model.json or its folder, a File list,
 * a reader; see loadMetaModel) or an already loaded export (whose parameters it then owns). In Node,
 * `fewShotClassifier` from @concord/deploy/node also takes a folder path.
 */
export async function fewShotClassifier(source: MetaModelSource | LoadedMetaModel, options: FewShotClassifierOptions = {}): Promise<FewShotClassifier> {
  const loaded = isLoaded(source) ? source : await loadMetaModel(source, options.factories ?? {});
  return FewShotClassifier.fromLoaded(loaded, options);
}

function isLoaded(source: unknown): source is LoadedMetaModel {
  const candidate = source as Partial<LoadedMetaModel> | null;
  return (
    candidate !== null &&
    typeof candidate === "object" &&
    typeof candidate.model?.forward === "function" &&
    candidate.params !== undefined &&
    candidate.spec !== undefined
  );
}

export type { BatchNormStatistics };
