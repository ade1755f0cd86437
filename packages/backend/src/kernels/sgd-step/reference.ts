// ConcordSgdStep (contract.ts) on cpu and wasm: a JavaScript loop with each operation rounded to
// float32; on wasm the addon's loop (native.ts) while native kernels are installed, else gemm.wat's
// sgd_step (the same float32 operations, four lanes at a time).
import * as tf from "@tensorflow/tfjs-core";
import type { KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { replaceKernel } from "../../registry-journal.js";
import { nativeKernels } from "../native-kernels.js";
import { simdKernels, type WasmHeapBackend } from "../simd-module.js";
import { SGD_STEP_KERNEL, type SgdStepAttrs } from "./contract.js";
import { nativeSgdStep } from "./native.js";

/** θ' = θ − fround(g·lr): each operation rounded to float32 as the op form's kernels round it. */
function step(param: Float32Array, grad: Float32Array, out: Float32Array, lr: number): void {
  const f = Math.fround;
  const rate = f(lr); // the op form's scalar tensor
  for (let i = 0; i < param.length; i++) out[i] = f(param[i]! - f(grad[i]! * rate));
}

function kernel(backendName: "cpu" | "wasm"): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const param = inputs["param"] as TensorInfo;
    const grad = inputs["grad"] as TensorInfo;
    if (param.dtype !== "float32" || grad.dtype !== "float32" || !tf.util.arraysEqual(param.shape, grad.shape)) {
      throw new Error(
        `${SGD_STEP_KERNEL}: expected float32 param and grad of one shape, got ${param.dtype} [${param.shape}] and ${grad.dtype} [${grad.shape}]`,
      );
    }
    const shape = [...param.shape];
    const size = tf.util.sizeFromShape(shape);
    const { lr } = attrs as unknown as SgdStepAttrs;
    if (backendName === "cpu") {
      const cpu = backend as unknown as {
        data: { get(dataId: object): { values: Float32Array } };
        makeTensorInfo(shape: number[], dtype: "float32", values: Float32Array): TensorInfo;
      };
      const out = new Float32Array(size);
      step(cpu.data.get(param.dataId).values, cpu.data.get(grad.dataId).values, out, lr);
      return cpu.makeTensorInfo(shape, "float32", out);
    }
    const wasm = backend as unknown as {
      wasm: { HEAP32: Int32Array };
      dataIdMap: { get(dataId: object): { memoryOffset: number } };
      makeOutput(shape: number[], dtype: "float32"): TensorInfo;
    };
    const output = wasm.makeOutput(shape, "float32");
    const offsetOf = (t: TensorInfo) => wasm.dataIdMap.get(t.dataId).memoryOffset;
    const native = nativeKernels();
    if (native?.sgdStep) {
      nativeSgdStep(backend as unknown as WasmHeapBackend, native, offsetOf(param), offsetOf(grad), offsetOf(output), size, lr);
      return output;
    }
    // The JavaScript loop was ~1 % of a per-task Omniglot iteration on wasm and ~4 % of a batched
    // sinusoid one (bench/profiles/host-time-*-wasm-*.json); the wasm loop rounds the same way.
    const simd = simdKernels(backend as unknown as WasmHeapBackend);
    if (simd) {
      simd.sgd_step(offsetOf(param), offsetOf(grad), offsetOf(output), size, lr);
      return output;
    }
    // Views are taken after the output is allocated (which may grow the heap).
    const buffer = wasm.wasm.HEAP32.buffer;
    const view = (t: TensorInfo) => new Float32Array(buffer, offsetOf(t), size);
    step(view(param), view(grad), view(output), lr);
    return output;
  };
}

/**
 * Registers the kernel ({@link SGD_STEP_KERNEL}) on cpu and wasm unless registered (its gradient is
 * part of Concord's gradient set, gradient.ts). Part of installConcord(); uninstallConcord()
 * removes it.
 */
export function registerSgdStepKernel(): void {
  for (const backendName of ["cpu", "wasm"] as const) {
    if (!tf.getKernel(SGD_STEP_KERNEL, backendName)) {
      replaceKernel({ kernelName: SGD_STEP_KERNEL, backendName, kernelFunc: kernel(backendName) }, "sgd");
    }
  }
}
