// One Adam update of one parameter as a single kernel (cpu and wasm), computing exactly what the
// op-by-op form in @concord/optimizers' adam.ts computes: each step is one float32 operation, reproduced with Math.fround
// (float64 then rounded to float32 is exact for +, −, ×, ÷ and √). Performance: the op-by-op form
// runs 13 kernels per parameter, and at the sinusoid benchmark's size each kernel's bookkeeping
// costs more than its arithmetic.
import * as tf from "@tensorflow/tfjs-core";
import type { KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { replaceKernel } from "../../registry-journal.js";
import { ADAM_UPDATE_KERNEL, type AdamUpdateAttrs } from "./contract.js";

type AdamConstants = AdamUpdateAttrs;

function update(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, out: [Float32Array, Float32Array, Float32Array], c: AdamConstants): void {
  const f = Math.fround;
  // The scalars as the op-by-op form sees them: float32 tensors made from float64 numbers.
  const b1 = f(c.beta1);
  const c1 = f(1 - c.beta1);
  const b2 = f(c.beta2);
  const c2 = f(1 - c.beta2);
  const cs = f(c.correction2Sqrt);
  const eps = f(c.epsilon);
  const ss = f(c.stepSize);
  const [pOut, mOut, vOut] = out;
  for (let i = 0; i < p.length; i++) {
    const gi = g[i]!;
    const mi = f(f(m[i]! * b1) + f(gi * c1));
    const vi = f(f(v[i]! * b2) + f(f(gi * gi) * c2));
    const denominator = f(f(f(Math.sqrt(vi)) / cs) + eps);
    mOut[i] = mi;
    vOut[i] = vi;
    pOut[i] = f(p[i]! - f(f(mi / denominator) * ss));
  }
}

function kernel(backendName: "cpu" | "wasm"): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const names = ["param", "grad", "m", "v"] as const;
    const tensors = names.map((name) => inputs[name] as TensorInfo);
    const shape = [...tensors[0]!.shape];
    const size = tf.util.sizeFromShape(shape);
    const constants = attrs as unknown as AdamConstants;
    if (backendName === "cpu") {
      const cpu = backend as unknown as {
        data: { get(dataId: object): { values: Float32Array } };
        makeTensorInfo(shape: number[], dtype: "float32", values: Float32Array): TensorInfo;
      };
      const values = tensors.map((t) => cpu.data.get(t.dataId).values);
      const out: [Float32Array, Float32Array, Float32Array] = [new Float32Array(size), new Float32Array(size), new Float32Array(size)];
      update(values[0]!, values[1]!, values[2]!, values[3]!, out, constants);
      return out.map((values) => cpu.makeTensorInfo(shape, "float32", values));
    }
    const wasm = backend as unknown as {
      wasm: { HEAP32: Int32Array };
      dataIdMap: { get(dataId: object): { memoryOffset: number } };
      makeOutput(shape: number[], dtype: "float32"): TensorInfo;
    };
    const outputs = [wasm.makeOutput(shape, "float32"), wasm.makeOutput(shape, "float32"), wasm.makeOutput(shape, "float32")];
    // Views are taken after the outputs are allocated (which may grow the heap).
    const buffer = wasm.wasm.HEAP32.buffer;
    const view = (t: TensorInfo) => new Float32Array(buffer, wasm.dataIdMap.get(t.dataId).memoryOffset, size);
    const [p, g, m, v] = tensors.map(view);
    update(p!, g!, m!, v!, [view(outputs[0]!), view(outputs[1]!), view(outputs[2]!)], constants);
    return outputs;
  };
}

/**
 * Registers the kernel ({@link ADAM_UPDATE_KERNEL}) on cpu and wasm unless registered (the wasm
 * one is used only if that backend loads). Part of installConcord().
 */
export function registerAdamKernel(): void {
  for (const backendName of ["cpu", "wasm"] as const) {
    if (!tf.getKernel(ADAM_UPDATE_KERNEL, backendName)) {
      replaceKernel({ kernelName: ADAM_UPDATE_KERNEL, backendName, kernelFunc: kernel(backendName) }, "adam");
    }
  }
}
