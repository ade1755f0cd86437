import type * as tf from "@tensorflow/tfjs-core";

/**
 * The window geometry that im2col and the max-pool scans take, in this order (gemm.wat's functions
 * and the native addon's alike): an NHWC input n × height × width × c, an output grid oh × ow of
 * kh × kw windows, the input shifted by (top, left) of padding.
 */
export type WindowGeometry = [n: number, height: number, width: number, c: number, oh: number, ow: number, kh: number, kw: number, top: number, left: number];

/** The geometry of a pool (tfjs's Conv2DInfo) in that order, its input shifted by (top, left). */
export function poolWindowGeometry(info: tf.backend_util.Conv2DInfo, top: number, left: number): WindowGeometry {
  return [info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.filterHeight, info.filterWidth, top, left];
}
