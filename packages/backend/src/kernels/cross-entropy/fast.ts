// ConcordSoftmaxCrossEntropy, ConcordSoftmaxCrossEntropyGrad and ConcordSoftmaxCrossEntropyGradGrad
// (contract.ts) as registered on cpu and wasm: reference.ts's loops, on the cpu backend's arrays or
// on views of the wasm heap. Performance: written with tf ops, the mean loss of one Omniglot task's
// [5, 5] logits is 15 kernels forward and 30 for its gradient (Max, Sub, Exp, Sum, Log, Reshape,
// OneHot, Cast, Multiply, Tile …), each several µs of tfjs bookkeeping for a few dozen floats of work;
// with these kernels it is 2 and 4 (the mean stays in tf), 4–5× less CPU. Gradients: gradient.ts.
import * as tf from "@tensorflow/tfjs-core";
import type { KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { replaceKernel } from "../../registry-journal.js";
import type { WasmHeapBackend } from "../simd-module.js";
import { SOFTMAX_CROSS_ENTROPY_GRAD_GRAD_KERNEL, SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL, SOFTMAX_CROSS_ENTROPY_KERNEL } from "./contract.js";
import { checkLabels, crossEntropyBackward, crossEntropyForward, crossEntropyGradGrad } from "./reference.js";

type Inputs = Record<string, TensorInfo | undefined>;

const describe = (inputs: Inputs, names: readonly string[]) =>
  names.map((name) => `${name} ${inputs[name] ? `${inputs[name]!.dtype} [${inputs[name]!.shape.join(", ")}]` : "missing"}`).join(", ");

/**
 * The kernel's inputs, checked: float32 logits [..., C] (C ≥ 1), int32 labels [...], and where named
 * float32 dy like labels and upstream like logits. Returns them and the row and class counts.
 */
function checkedInputs(kernelName: string, inputs: Inputs, names: readonly string[]): { tensors: TensorInfo[]; rows: number; classes: number } {
  const [logits, labels, dy, upstream] = names.map((name) => inputs[name]);
  const classes = logits?.shape[logits.shape.length - 1] ?? 0;
  const rowShape = logits?.shape.slice(0, -1) ?? [];
  const ok =
    logits !== undefined &&
    logits.dtype === "float32" &&
    classes >= 1 &&
    labels !== undefined &&
    labels.dtype === "int32" &&
    tf.util.arraysEqual(labels.shape, rowShape) &&
    (names.length < 3 || (dy !== undefined && dy.dtype === "float32" && tf.util.arraysEqual(dy.shape, rowShape))) &&
    (names.length < 4 || (upstream !== undefined && upstream.dtype === "float32" && tf.util.arraysEqual(upstream.shape, logits.shape)));
  if (!ok) {
    const expected = ["float32 logits [..., C] (C ≥ 1)", "int32 labels [...]", "float32 dy like labels", "float32 upstream like logits"];
    throw new Error(`${kernelName}: expected ${expected.slice(0, names.length).join(", ")}; got ${describe(inputs, names)}`);
  }
  return { tensors: names.map((name) => inputs[name]!), rows: tf.util.sizeFromShape(rowShape), classes };
}

interface CpuBackend {
  data: { get(dataId: object): { values: Float32Array | Int32Array } };
  makeTensorInfo(shape: number[], dtype: "float32", values: Float32Array): TensorInfo;
}

/**
 * Typed-array access to a kernel's tensors on either backend: `read` an input, `output` a new
 * float32 tensor, `values` its array to fill. On wasm every output is allocated before any view is
 * taken (an allocation may grow the heap and detach older views).
 */
function tensorAccess(backendName: "cpu" | "wasm", backend: unknown, outputShapes: number[][]) {
  if (backendName === "cpu") {
    const cpu = backend as CpuBackend;
    const arrays = outputShapes.map((shape) => new Float32Array(tf.util.sizeFromShape(shape)));
    return {
      float: (t: TensorInfo) => cpu.data.get(t.dataId).values as Float32Array,
      int: (t: TensorInfo) => cpu.data.get(t.dataId).values as Int32Array,
      outputs: arrays,
      result: () => arrays.map((values, i) => cpu.makeTensorInfo(outputShapes[i]!, "float32", values)),
    };
  }
  const wasm = backend as WasmHeapBackend;
  const infos = outputShapes.map((shape) => wasm.makeOutput(shape, "float32"));
  const buffer = wasm.wasm.HEAP32.buffer;
  const offsetOf = (t: TensorInfo) => wasm.dataIdMap.get(t.dataId)!.memoryOffset;
  const size = (t: TensorInfo) => tf.util.sizeFromShape(t.shape);
  return {
    float: (t: TensorInfo) => new Float32Array(buffer, offsetOf(t), size(t)),
    int: (t: TensorInfo) => new Int32Array(buffer, offsetOf(t), size(t)),
    outputs: infos.map((t) => new Float32Array(buffer, offsetOf(t), size(t))),
    result: () => infos,
  };
}

function forwardKernel(backendName: "cpu" | "wasm"): KernelFunc {
  return ({ inputs, backend }) => {
    const { tensors, classes } = checkedInputs(SOFTMAX_CROSS_ENTROPY_KERNEL, inputs as Inputs, ["logits", "labels"]);
    const [logits, labels] = tensors as [TensorInfo, TensorInfo];
    const access = tensorAccess(backendName, backend, [[...labels.shape]]);
    const labelValues = access.int(labels);
    checkLabels(SOFTMAX_CROSS_ENTROPY_KERNEL, labelValues, classes);
    crossEntropyForward(access.float(logits), labelValues, classes, access.outputs[0]!);
    return access.result()[0]!;
  };
}

function backwardKernel(backendName: "cpu" | "wasm"): KernelFunc {
  return ({ inputs, backend }) => {
    const { tensors, classes } = checkedInputs(SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL, inputs as Inputs, ["logits", "labels", "dy"]);
    const [logits, labels, dy] = tensors as [TensorInfo, TensorInfo, TensorInfo];
    const access = tensorAccess(backendName, backend, [[...logits.shape]]);
    const labelValues = access.int(labels);
    checkLabels(SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL, labelValues, classes);
    crossEntropyBackward(access.float(logits), labelValues, access.float(dy), classes, access.outputs[0]!);
    return access.result()[0]!;
  };
}

function gradGradKernel(backendName: "cpu" | "wasm"): KernelFunc {
  return ({ inputs, backend }) => {
    const names = ["logits", "labels", "dy", "upstream"] as const;
    const { tensors, classes } = checkedInputs(SOFTMAX_CROSS_ENTROPY_GRAD_GRAD_KERNEL, inputs as Inputs, names);
    const [logits, labels, dy, upstream] = tensors as [TensorInfo, TensorInfo, TensorInfo, TensorInfo];
    const access = tensorAccess(backendName, backend, [[...logits.shape], [...labels.shape]]);
    const labelValues = access.int(labels);
    checkLabels(SOFTMAX_CROSS_ENTROPY_GRAD_GRAD_KERNEL, labelValues, classes);
    const [dLogits, dDy] = access.outputs as [Float32Array, Float32Array];
    crossEntropyGradGrad(access.float(logits), labelValues, access.float(dy), access.float(upstream), classes, dLogits, dDy);
    return access.result();
  };
}

/**
 * Registers the three cross-entropy kernels on cpu and wasm (their gradients are part of Concord's
 * gradient set, gradient.ts). Part of installConcord() (fast kernel "cross-entropy": leaving it out
 * gives @concord/models' tf-op cross-entropy, bit for bit that of records made before it).
 */
export function installSoftmaxCrossEntropy(): boolean {
  for (const backendName of ["cpu", "wasm"] as const) {
    for (const [kernelName, make] of [
      [SOFTMAX_CROSS_ENTROPY_KERNEL, forwardKernel],
      [SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL, backwardKernel],
      [SOFTMAX_CROSS_ENTROPY_GRAD_GRAD_KERNEL, gradGradKernel],
    ] as const) {
      if (!tf.getKernel(kernelName, backendName)) replaceKernel({ kernelName, backendName, kernelFunc: make(backendName) }, "cross-entropy");
    }
  }
  return true;
}
