import * as tf from "@tensorflow/tfjs-core";
import { enginePatched, patchEngine } from "../registry-journal.js";

/** The tfjs-core 4.x Engine internals Engine.runKernel and runKernelFunc use. */
interface EngineInternals {
  runKernel(kernelName: string, inputs: tf.NamedTensorMap, attrs?: tf.NamedAttrMap): tf.Tensor | tf.Tensor[];
  runKernelFunc(params: { kernelName: string; inputs: tf.NamedTensorMap; attrs?: tf.NamedAttrMap }): tf.Tensor | tf.Tensor[];
  readonly backendName: string | null;
  readonly backend: tf.KernelBackend;
  readonly ENV: { getBool(flag: string): boolean };
  state: { profiling: boolean; kernelDepth: number; gradientDepth: number };
  isTapeOn(): boolean;
  makeTensorFromTensorInfo(info: tf.TensorInfo): tf.Tensor;
  getTensorsForGradient(kernelName: string, inputs: tf.NamedTensorMap, outputs: tf.Tensor[]): tf.Tensor[];
  saveTensorsForBackwardMode(tensors: tf.Tensor[]): tf.Tensor[];
  addTapeNode(
    kernelName: string,
    inputs: tf.NamedTensorMap,
    outputs: tf.Tensor[],
    gradient: null,
    saved: tf.Tensor[],
    attrs: tf.NamedAttrMap | undefined,
  ): void;
}

/**
 * Engine.runKernel (every op's way to its kernel) in one function for the common case. tfjs looks
 * the kernel up twice (runKernel checks it, runKernelFunc fetches it: a string key built each
 * time), builds four closures per call and asks the environment for IS_TEST twice. This does the
 * same steps in the same order (kernel depth, the kernel, output tensors, saved tensors and tape
 * node while a tape records) once. Profiling (tf.profile), DEBUG and IS_TEST (the engine's leak
 * check) go to tfjs's own runKernelFunc, so tf.profile sees every kernel as before. Same tensors,
 * same tape, same errors.
 */
export function installLeanRunKernel(): boolean {
  if (enginePatched("runKernel")) return true;
  const engine = tf.engine() as unknown as EngineInternals;
  if (typeof engine.runKernel !== "function" || typeof engine.runKernelFunc !== "function" || typeof engine.addTapeNode !== "function") return false;
  patchEngine("runKernel", leanRunKernel.bind(engine));
  return true;
}

function leanRunKernel(this: EngineInternals, kernelName: string, inputs: tf.NamedTensorMap, attrs?: tf.NamedAttrMap): tf.Tensor | tf.Tensor[] {
  // Reading the backend initialises it lazily (tfjs's runKernel does the same).
  if (this.backendName == null) void this.backend;
  const backendName = this.backendName as string;
  const kernel = tf.getKernel(kernelName, backendName);
  if (kernel == null) throw new Error(`Kernel '${kernelName}' not registered for backend '${backendName}'`);
  if (this.state.profiling || this.ENV.getBool("DEBUG") || this.ENV.getBool("IS_TEST")) return this.runKernelFunc({ kernelName, inputs, attrs });
  const isTapeOn = this.isTapeOn();
  let saved: tf.Tensor[] = [];
  let out: tf.TensorInfo | tf.TensorInfo[];
  let outputs: tf.Tensor[];
  // While a kernel runs, nothing is recorded on the tape (kernelDepth > 0).
  this.state.kernelDepth++;
  try {
    out = kernel.kernelFunc({ inputs, attrs: attrs as tf.NamedAttrMap, backend: this.backend }) as tf.TensorInfo | tf.TensorInfo[];
    const infos = Array.isArray(out) ? out : [out];
    outputs = infos.map((info) => ((info as { rank?: number }).rank != null ? (info as tf.Tensor) : this.makeTensorFromTensorInfo(info)));
    if (isTapeOn) saved = this.saveTensorsForBackwardMode(this.getTensorsForGradient(kernelName, inputs, outputs));
  } finally {
    this.state.kernelDepth--;
  }
  if (isTapeOn) this.addTapeNode(kernelName, inputs, outputs, null, saved, attrs);
  return Array.isArray(out) ? outputs : outputs[0]!;
}
