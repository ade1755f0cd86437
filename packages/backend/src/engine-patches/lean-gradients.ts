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

/** A node of the filtered tape: what backpropagation needs of a tape node, with only the inputs that depend on an x. */
export interface FilteredNode {
  readonly kernelName: string;
  readonly inputs: Record<string, tf.Tensor>;
  readonly outputs: tf.Tensor[];
  readonly gradient: TapeNode["gradient"];
}

/**
 * tfjs's getFilteredNodesXToY: the tape nodes on a path from an x to y, in tape order, each with
 * only the inputs that depend on an x (in the node's input order).
 */
export function filterTape(tape: readonly TapeNode[], xs: readonly tf.Tensor[], y: tf.Tensor): FilteredNode[] {
  const fromX = new Set<number>();
  for (const x of xs) fromX.add(x.id);
  const count = tape.length;
  // keep[i]: node i has an input that depends on an x, and (second pass) an output that leads to y.
  const keep = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const node = tape[i]!;
    const inputs = node.inputs;
    for (const name in inputs) {
      if (fromX.has(inputs[name]!.id)) {
        const outputs = node.outputs;
        for (let j = 0; j < outputs.length; j++) fromX.add(outputs[j]!.id);
        keep[i] = 1;
        break;
      }
    }
  }
  const leadsToY = new Set<number>([y.id]);
  for (let i = count - 1; i >= 0; i--) {
    const node = tape[i]!;
    const outputs = node.outputs;
    let leads = false;
    for (let j = 0; j < outputs.length && !leads; j++) leads = leadsToY.has(outputs[j]!.id);
    if (!leads) {
      keep[i] = 0;
      continue;
    }
    let hasInputs = false;
    for (const name in node.inputs) {
      leadsToY.add(node.inputs[name]!.id);
      hasInputs = true;
    }
    if (!hasInputs) keep[i] = 0;
  }
  const filtered: FilteredNode[] = [];
  for (let i = 0; i < count; i++) {
    if (keep[i] === 0) continue;
    const node = tape[i]!;
    let inputs = node.inputs;
    for (const name in node.inputs) {
      if (fromX.has(node.inputs[name]!.id)) continue;
      // Some input does not depend on an x: copy the ones that do.
      inputs = {};
      for (const kept in node.inputs) if (fromX.has(node.inputs[kept]!.id)) inputs[kept] = node.inputs[kept]!;
      break;
    }
    filtered.push({ kernelName: node.kernelName, inputs, outputs: node.outputs, gradient: node.gradient });
  }
  return filtered;
}

/** tfjs's backpropagateGradients with a Map of accumulated gradients by tensor id. */
function backpropagate(engine: EngineInternals, accumulated: Map<number, tf.Tensor>, filteredTape: readonly FilteredNode[]): void {
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
