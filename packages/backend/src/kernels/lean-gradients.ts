import * as tf from "@tensorflow/tfjs-core";
import { enginePatched, patchEngine } from "../registry-journal.js";

/** A recorded kernel call on tfjs-core 4.x's gradient tape. */
interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

/** The tfjs-core 4.x Engine internals Engine.gradients uses. */
interface EngineInternals {
  gradients(f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients?: boolean): { value: tf.Tensor; grads: tf.Tensor[] };
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(nameOrFn: string | (() => T), fn?: () => T): T;
  makeTensor(values: Float32Array, shape: number[], dtype: "float32"): tf.Tensor;
  runKernel(kernelName: string, inputs: Record<string, tf.Tensor>): tf.Tensor;
}

/**
 * Replaces Engine.gradients (behind tf.grad, tf.grads, tf.valueAndGrads, tf.variableGrads) with
 * the same algorithm on Sets and Maps. tfjs filters the tape with objects keyed by tensor id (which
 * V8 keeps as slow dictionaries) and tests every node input once per x (the same lookup repeated
 * xs.length times); with nested tapes (second-order MAML: every inner tf.grads filters the outer
 * tape) that filter was about 8% of a per-task sinusoid iteration. The same nodes are kept in the
 * same order and backpropagated with the same kernels in the same order, so gradients are
 * bit-identical; the error messages are tfjs's.
 */
export function installLeanGradients(): boolean {
  if (enginePatched("gradients")) return true;
  const engine = tf.engine() as unknown as EngineInternals;
  if (typeof engine.gradients !== "function" || typeof engine.scopedRun !== "function" || typeof engine.startTape !== "function") return false;
  patchEngine("gradients", leanGradients.bind(engine));
  return true;
}

function leanGradients(
  this: EngineInternals,
  f: () => tf.Tensor,
  xs: tf.Tensor[],
  dy?: tf.Tensor | null,
  allowNoGradients = false,
): { value: tf.Tensor; grads: tf.Tensor[] } {
  tf.util.assert(xs.length > 0, () => "gradients() received an empty list of xs.");
  if (dy != null && dy.dtype !== "float32") throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
  const y = this.scopedRun(
    () => this.startTape(),
    () => this.endTape(),
    () => this.tidy("forward", f),
  );
  tf.util.assert(y instanceof tf.Tensor, () => "The result y returned by f() must be a tensor.");
  const filteredTape = filterTape(this.state.activeTape ?? [], xs, y);
  if (!allowNoGradients && filteredTape.length === 0 && xs.length > 0) {
    throw new Error("Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all operations that lead from x to y.");
  }
  return this.tidy("backward", () => {
    const accumulated = new Map<number, tf.Tensor>();
    accumulated.set(y.id, dy == null ? this.makeTensor(new Float32Array(y.size).fill(1), y.shape, "float32") : dy);
    backpropagate(this, accumulated, filteredTape);
    const grads = xs.map((x) => accumulated.get(x.id)) as tf.Tensor[];
    if (this.state.gradientDepth === 0) {
      // Not inside another tape: the recorded tape and the tensors its gradients saved are done.
      for (const node of this.state.activeTape ?? []) for (const tensor of node.saved ?? []) tensor.dispose();
      this.state.activeTape = null;
    }
    return { value: y, grads } as unknown as tf.TensorContainer;
  }) as unknown as { value: tf.Tensor; grads: tf.Tensor[] };
}

/**
 * tfjs's getFilteredNodesXToY: the tape nodes on a path from an x to y, in tape order, each a copy
 * whose inputs are only those that depend on an x.
 */
export function filterTape(tape: readonly TapeNode[], xs: readonly tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set<number>();
  for (const x of xs) fromX.add(x.id);
  const nodeFromX = new Uint8Array(tape.length);
  for (let i = 0; i < tape.length; i++) {
    const node = tape[i]!;
    for (const name in node.inputs) {
      if (fromX.has(node.inputs[name]!.id)) {
        for (const output of node.outputs) fromX.add(output.id);
        nodeFromX[i] = 1;
        break;
      }
    }
  }
  const leadsToY = new Set<number>([y.id]);
  const nodeToY = new Uint8Array(tape.length);
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (node.outputs.some((output) => leadsToY.has(output.id))) {
      for (const name in node.inputs) {
        leadsToY.add(node.inputs[name]!.id);
        nodeToY[i] = 1;
      }
    }
  }
  const filtered: TapeNode[] = [];
  for (let i = 0; i < tape.length; i++) {
    if (!nodeFromX[i] || !nodeToY[i]) continue;
    const node = tape[i]!;
    const prunedInputs: Record<string, tf.Tensor> = {};
    for (const name in node.inputs) {
      const input = node.inputs[name]!;
      if (fromX.has(input.id)) prunedInputs[name] = input;
    }
    filtered.push({ ...node, inputs: prunedInputs, outputs: node.outputs });
  }
  return filtered;
}

/** tfjs's backpropagateGradients with a Map of accumulated gradients by tensor id. */
function backpropagate(engine: EngineInternals, accumulated: Map<number, tf.Tensor>, filteredTape: readonly TapeNode[]): void {
  for (let i = filteredTape.length - 1; i >= 0; i--) {
    const node = filteredTape[i]!;
    const dys = node.outputs.map((output) => accumulated.get(output.id) ?? null);
    if (node.gradient == null) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
    const inputGradients = node.gradient(dys);
    for (const inputName in node.inputs) {
      if (!(inputName in inputGradients)) {
        throw new Error(`Cannot backprop through input ${inputName}. Available gradients found: ${Object.keys(inputGradients)}.`);
      }
      const dx = engine.tidy(() => inputGradients[inputName]!());
      if (dx.dtype !== "float32") {
        throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input ${inputName} must have 'float32' dtype, but has '${dx.dtype}'`);
      }
      const x = node.inputs[inputName]!;
      if (!tf.util.arraysEqual(dx.shape, x.shape)) {
        throw new Error(
          `Error in gradient for op ${node.kernelName}. The gradient of input '${inputName}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`,
        );
      }
      const current = accumulated.get(x.id);
      if (current == null) {
        accumulated.set(x.id, dx);
      } else {
        accumulated.set(x.id, engine.runKernel("Add", { a: current, b: dx }));
        current.dispose();
      }
    }
  }
}
