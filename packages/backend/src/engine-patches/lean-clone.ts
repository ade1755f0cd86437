import * as tf from "@tensorflow/tfjs-core";
import { enginePatched, patchEngine } from "../registry-journal.js";

/** The tfjs-core 4.x Engine internals this patch relies on. */
interface EngineInternals {
  clone(x: tf.Tensor): tf.Tensor;
  backend: { incRef?(dataId: object): void };
  state: { tensorInfo: Map<object, { backend: unknown }>; activeScope: { name: string } };
  nextTensorId(): number;
  incRef(a: tf.Tensor, backend: unknown): void;
  addTapeNode(
    scopeName: string,
    inputs: Record<string, tf.Tensor>,
    outputs: tf.Tensor[],
    gradient: (dy: tf.Tensor) => Record<string, () => tf.Tensor>,
    saved: tf.Tensor[],
    attrs: Record<string, unknown>,
  ): void;
}

/**
 * While a gradient tape records, tfjs clones every tensor a kernel's gradient saves
 * (Engine.saveTensorsForBackwardMode → Engine.clone), and each clone runs the Identity kernel
 * through the full kernel machinery: about a third of the kernels of a CNN meta-iteration. This
 * makes Engine.clone create the clone directly: a new tensor on the same buffer (reference count +
 * 1, what the cpu and Concord's wasm Identity kernels do) plus the same tape node tfjs adds, with
 * the same gradient values (dy as float32, by the Identity kernel). Tensors of other backends or dtype string keep tfjs's path.
 */
export function installLeanClone(): boolean {
  if (enginePatched("clone")) return true;
  const engine = tf.engine() as unknown as EngineInternals;
  if (typeof engine.clone !== "function" || typeof engine.addTapeNode !== "function" || typeof engine.nextTensorId !== "function") return false;
  const original = engine.clone.bind(engine);
  const leanClone = function leanClone(this: EngineInternals, x: tf.Tensor): tf.Tensor {
    const info = this.state.tensorInfo.get(x.dataId);
    if (x.dtype === "string" || !info || info.backend !== this.backend || typeof this.backend.incRef !== "function") return original(x);
    const y = new tf.Tensor(x.shape, x.dtype, x.dataId, this.nextTensorId());
    this.incRef(y, this.backend);
    // tfjs's clone gradient is Cast(dy, float32); dy is always float32 here, so Identity gives the
    // same values, and shares dy's buffer instead of copying it (Concord's wasm Identity, cpu's own).
    const gradient = (dy: tf.Tensor) => ({
      x: () => tf.engine().runKernel(dy.dtype === "float32" ? "Identity" : "Cast", { x: dy }, { dtype: "float32" }) as tf.Tensor,
    });
    this.addTapeNode(this.state.activeScope.name, { x }, [y], gradient, [], {});
    return y;
  };
  patchEngine("clone", leanClone.bind(engine));
  return true;
}
