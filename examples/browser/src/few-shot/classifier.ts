/**
 * The few-shot classifier of the page: an exported meta-learned initialisation, adapted in the page to
 * one drawing per class, then applied to test drawings. Inputs are 28×28 arrays from preprocess.ts.
 */
import * as tf from "@tensorflow/tfjs-core";
import { adapt } from "@concord/algorithms";
import { disposeParams, type Params } from "@concord/core";
import { type LoadedMetaModel, loadMetaModel } from "@concord/deploy";
import { INPUT_SIZE } from "./preprocess.js";

export class FewShotClassifier {
  private adapted: Params | undefined;

  private constructor(readonly loaded: LoadedMetaModel) {}

  /** Loads the export at `url` (model.json or its folder). */
  static async load(url: string): Promise<FewShotClassifier> {
    return new FewShotClassifier(await loadMetaModel(url));
  }

  get ways(): number {
    return this.loaded.spec.labelCount ?? 0;
  }

  get isAdapted(): boolean {
    return this.adapted !== undefined;
  }

  /**
   * Adapts the initialisation to `support` (support[c] is the drawing of class c): the export's inner
   * optimizer for its inner-step count, one step at a time so the page can show progress and stay
   * responsive. (Stepping one at a time equals one multi-step call for a stateless inner optimizer such
   * as SGD, the one these exports use.)
   */
  async adapt(support: readonly Float32Array[], onStep: (done: number, total: number) => void = () => {}): Promise<void> {
    this.reset();
    const { model, objective, innerOptimizer, innerSteps, params } = this.loaded;
    const x = tf.tensor4d(concat(support), [support.length, INPUT_SIZE, INPUT_SIZE, 1]);
    const y = tf.tensor1d(
      support.map((_, c) => c),
      "int32",
    );
    let current: Params = params;
    try {
      for (let step = 0; step < innerSteps; step++) {
        const next = tf.tidy(() => {
          const result = adapt(current, { x, y }, { model, objective, innerOptimizer, innerSteps: 1 });
          return { ...result.params };
        });
        if (current !== params) disposeParams(current);
        current = next;
        // Reading a value waits for the backend (webgl runs asynchronously) before the progress moves.
        await Object.values(current)[0]!.data();
        onStep(step + 1, innerSteps);
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      this.adapted = current === params ? tf.tidy(() => Object.fromEntries(Object.entries(params).map(([k, v]) => [k, v.clone()]))) : current;
    } finally {
      tf.dispose([x, y]);
    }
  }

  /**
   * Class probabilities of each test drawing. All drawings go through the network as one batch: the
   * model's batch norm is transductive (statistics of the batch it is given), as in training and
   * evaluation, where a task's whole query set is one batch.
   */
  predict(queries: readonly Float32Array[]): number[][] {
    if (!this.adapted) throw new Error("adapt the model to the five drawings first");
    if (queries.length === 0) return [];
    const adapted = this.adapted;
    return tf.tidy(() => {
      const x = tf.tensor4d(concat(queries), [queries.length, INPUT_SIZE, INPUT_SIZE, 1]);
      return tf.softmax(this.loaded.model.forward(adapted, x) as tf.Tensor2D).arraySync() as number[][];
    });
  }

  reset(): void {
    if (this.adapted) disposeParams(this.adapted);
    this.adapted = undefined;
  }
}

function concat(arrays: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(arrays.length * INPUT_SIZE * INPUT_SIZE);
  arrays.forEach((array, i) => out.set(array, i * INPUT_SIZE * INPUT_SIZE));
  return out;
}
