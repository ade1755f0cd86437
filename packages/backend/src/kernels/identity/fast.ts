import * as tf from "@tensorflow/tfjs-core";
import { kernelOwner, replaceKernel } from "../../registry-journal.js";

interface RefCountingBackend {
  incRef(dataId: object): void;
}

const OWNER = "fast:identity";

/**
 * Makes the wasm backend's Identity kernel share its input's buffer (reference count + 1), as the
 * cpu backend's does, instead of copying it. tfjs runs Identity for every tensor a gradient saves
 * while a tape records (Engine.saveTensorsForBackwardMode clones them), so under tf.grads each
 * saved activation was copied once more: about 700 copies of 1 MB per Omniglot meta-iteration.
 * Tensors are immutable in tfjs and no wasm kernel writes into its inputs, so sharing is safe
 * (reshape already shares buffers this way). Strings keep the original kernel.
 */
export function installSharingIdentity(): boolean {
  if (kernelOwner("Identity", "wasm") === OWNER) return true;
  const original = tf.getKernel("Identity", "wasm");
  if (!original) return false;
  const originalFunc = original.kernelFunc;
  const kernelFunc: tf.KernelFunc = (args) => {
    const x = args.inputs["x"] as tf.TensorInfo;
    if (x.dtype === "string") return originalFunc(args) as tf.TensorInfo;
    (args.backend as unknown as RefCountingBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  replaceKernel({ ...original, kernelFunc }, OWNER);
  return true;
}
