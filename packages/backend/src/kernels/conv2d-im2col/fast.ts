import * as tf from "@tensorflow/tfjs-core";
import { kernelOwner, replaceKernel } from "../../registry-journal.js";
import { nativeKernels } from "../native-kernels.js";
import { simdKernels, type WasmHeapBackend } from "../simd-module.js";
import { nativeConv2d } from "./native.js";

const OWNER = "fast:conv2d-im2col";

/**
 * Replaces the wasm backend's Conv2D kernel for stride-1, undilated NHWC convolutions whose filter
 * has more spatial positions than the output (kh·kw > outH·outW) by im2col plus one rank-2 matMul
 * (XNNPACK's fully-connected path):
 *
 *   out[(n, i, j), o] = Σ_{(h, w, c)} xpad[n, i+h, j+w, c] · W[(h, w, c), o].
 *
 * Those are the convolutions that compute filter gradients (Concord's Conv2D gradient writes ∂L/∂W
 * as a conv2d of transposed tensors, whose "filter" is the whole image): XNNPACK's convolution is
 * built for small filters and ran them 2–10× slower than the matMul. The im2col matrix is small for
 * them (outH·outW rows per image). Other convolutions go to the original kernel; same values up
 * to summation order; gradients are unchanged. While native kernels are set (setNativeKernels), every
 * stride-1 undilated NHWC convolution is im2col + one native sgemm (a 1×1 unpadded one needs no im2col).
 */
export function installIm2colConv2d(): boolean {
  if (kernelOwner("Conv2D", "wasm") === OWNER) return true;
  const original = tf.getKernel("Conv2D", "wasm");
  const matMul = tf.getKernel("BatchMatMul", "wasm");
  if (!original || !matMul) return false;
  const originalFunc = original.kernelFunc;
  const kernelFunc: tf.KernelFunc = (args) => im2colConv2d(args, matMul) ?? (originalFunc(args) as tf.TensorInfo);
  replaceKernel({ ...original, kernelFunc }, OWNER);
  return true;
}

function im2colConv2d({ inputs, backend, attrs = {} }: Parameters<tf.KernelFunc>[0], matMul: tf.KernelConfig): tf.TensorInfo | undefined {
  const x = inputs["x"] as tf.TensorInfo;
  const filter = inputs["filter"] as tf.TensorInfo;
  const dataFormat = (attrs["dataFormat"] as string | undefined) ?? "NHWC";
  if (x.dtype !== "float32" || filter.dtype !== "float32" || (dataFormat !== "NHWC" && dataFormat !== "channelsLast")) return undefined;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    attrs["strides"] as number | [number, number],
    (attrs["dilations"] as number | [number, number] | undefined) ?? 1,
    attrs["pad"] as "same" | "valid" | number | tf.backend_util.ExplicitPadding,
    attrs["dimRoundingMode"] as "floor" | "round" | "ceil" | undefined,
  );
  if (info.strideHeight !== 1 || info.strideWidth !== 1 || info.dilationHeight !== 1 || info.dilationWidth !== 1) return undefined;
  const { batchSize: n, inHeight: height, inWidth: width, inChannels: cin, outHeight: oh, outWidth: ow, outChannels: cout } = info;
  const { filterHeight: kh, filterWidth: kw } = info;
  const heapBackend = backend as unknown as WasmHeapBackend;
  const native = nativeKernels();
  if (native && n * oh * ow > 0 && cout > 0 && cin > 0) return nativeConv2d(heapBackend, native, x, filter, info);
  if (kh * kw <= oh * ow || n * oh * ow === 0 || cout === 0) return undefined;

  const kernels = simdKernels(heapBackend);
  const source = heapBackend.dataIdMap.get(x.dataId)?.memoryOffset;
  if (!kernels || source === undefined) return undefined;
  const rows = n * oh * ow;
  const depth = kh * kw * cin;
  const patches = heapBackend.makeOutput([rows, depth], "float32");
  const target = heapBackend.dataIdMap.get(patches.dataId)!.memoryOffset;
  kernels.im2col(source, target, n, height, width, cin, oh, ow, kh, kw, info.padInfo.top, info.padInfo.left);
  const product = matMul.kernelFunc({
    inputs: { a: patches, b: { dataId: filter.dataId, shape: [depth, cout], dtype: "float32" } },
    backend,
    attrs: { transposeA: false, transposeB: false },
  }) as tf.TensorInfo;
  heapBackend.disposeData(patches.dataId);
  return { dataId: product.dataId, shape: [n, oh, ow, cout], dtype: "float32" };
}
