// Max-pool gradient as two fused kernels, each the other's gradient, so that the gradient stays
// differentiable at every order:
//   route(x, dy)  → dx:  each window's dy goes to the first maximum of its window in x, zeros elsewhere;
//   gather(x, g)  → dy-shaped: each window takes g at the first maximum of its window in x.
// Both are linear in their second input and piecewise constant in x (zero gradient), and gather is
// route's adjoint. Pools whose strides equal their filter size (non-overlapping windows). Replaces
// an arg-max/one-hot/transpose composition of about ten kernels per pool (performance). Used only by
// Concord's MaxPool gradient (gradients/conv.ts).
import * as tf from "@tensorflow/tfjs-core";
import type { NamedAttrMap } from "@tensorflow/tfjs-core";
import type { NativeMemberKinds } from "../native-members.js";
import type { WindowGeometry } from "../window-geometry.js";

/** Inputs `{ x, dy }`, output x-shaped. */
export const MAX_POOL_ROUTE_KERNEL = "ConcordMaxPoolRoute";
/** Inputs `{ x, g }` (g x-shaped), output pooled (dy-shaped). */
export const MAX_POOL_GATHER_KERNEL = "ConcordMaxPoolGather";

export type Pad = "same" | "valid" | number | tf.backend_util.ExplicitPadding;
export type Shape4 = [number, number, number, number];

/** Attributes of both kernels: MaxPool's. */
export interface MaxPoolRouteAttrs {
  readonly filterSize: number | [number, number];
  readonly strides: number | [number, number];
  readonly pad: Pad;
  readonly dimRoundingMode?: "floor" | "round" | "ceil";
}

/** dx of y = maxPool(x) for upstream dy (see the file comment). `attrs` are MaxPool's. */
export function maxPoolRoute(x: tf.Tensor, dy: tf.Tensor, attrs: NamedAttrMap): tf.Tensor {
  return tf.engine().runKernel(MAX_POOL_ROUTE_KERNEL, { x, dy }, poolAttrs(attrs)) as tf.Tensor;
}

/** The adjoint of maxPoolRoute: g (x-shaped) read at each window's maximum, dy-shaped. */
export function maxPoolGather(x: tf.Tensor, g: tf.Tensor, attrs: NamedAttrMap): tf.Tensor {
  return tf.engine().runKernel(MAX_POOL_GATHER_KERNEL, { x, g }, poolAttrs(attrs)) as tf.Tensor;
}

function poolAttrs(attrs: NamedAttrMap): NamedAttrMap {
  const out: NamedAttrMap = { filterSize: attrs["filterSize"]!, strides: attrs["strides"]!, pad: attrs["pad"]! };
  if (attrs["dimRoundingMode"] != null) out["dimRoundingMode"] = attrs["dimRoundingMode"];
  return out;
}

/** The native function of both kernels (and of MaxPool itself), on the wasm heap (see native-kernels.ts). */
export interface NativeMaxPoolRoute {
  /**
   * The max-pool gradient routing kernels (ConcordMaxPoolRoute, gather 0: out x-shaped,
   * upstream pooled; ConcordMaxPoolGather, gather 1: out pooled, upstream x-shaped) for pools whose
   * strides equal their kh × kw window, NHWC. Each window's maximum is the first position, in
   * row-major window order, whose value exceeds all before it; route writes zeros elsewhere.
   * Where {@link NativeMaxPoolRoute.maxPoolForward} is true, `gather` 2 pools x itself (out pooled, each
   * window's maximum; upstream unused) and returns true, or false without a usable result where x
   * holds a NaN or −0 or a window lies wholly in the padding (tfjs's MaxPool defines those differently).
   */
  maxPoolRoute(buffer: ArrayBuffer, x: number, upstream: number, out: number, ...rest: [...geometry: WindowGeometry, gather: number]): boolean | undefined;
  /** True when maxPoolRoute takes `gather` 2: MaxPool itself. */
  readonly maxPoolForward: boolean;
}

export const NATIVE_MAX_POOL_ROUTE = { maxPoolRoute: "function", maxPoolForward: "flag" } as const satisfies NativeMemberKinds<NativeMaxPoolRoute>;
