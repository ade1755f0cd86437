// The reference implementation of ConcordBatchNorm, ConcordBatchNormGrad and
// ConcordBatchNormGradGrad (contract.ts): JavaScript on float32 arrays (the cpu kernels, and wasm's
// where wasm SIMD or the addon is missing), and the per-channel finishing steps that the wasm SIMD
// path (wasm.ts) shares.

// Arithmetic (shared, operation for operation, by gemm.wat's bn_* functions and the native addon's
// C++, so all three give the same bits): float64 throughout, per channel c over M rows. Moments in
// one pass of sums shifted by the first row (d = x − x₀: Σd, Σd² in float64 lose nothing that
// float32 outputs could show), then the normalisation folded into one multiply-add per element,
// y = x·a + b with a = γs, b = β − aμ; the backward pass sums g and g·x and writes
// dx = g·k₁ + x·k₂ + k₃ (the same formula regrouped, see batchNormBackward). The ReLU is the select
// z > 0 ? z : +0 (SIMD: an AND with the comparison). The second-order kernel (batchNormGradGrad)
// works on x̂ = (x − μ)·s computed per element in float64, with the forward's mask x·a + b > 0.

/** Per-channel float64 state of one call; `sum`, `squares`, `sumG`, `sumGX` start at zero. */
export interface ChannelArrays {
  readonly sum: Float64Array;
  readonly squares: Float64Array;
  readonly a: Float64Array;
  readonly b: Float64Array;
  readonly sumG: Float64Array;
  readonly sumGX: Float64Array;
  readonly k1: Float64Array;
  readonly k2: Float64Array;
  readonly k3: Float64Array;
}
export const CHANNEL_ARRAYS = 9;

export function channelArrays(buffer: ArrayBufferLike, byteOffset: number, channels: number): ChannelArrays {
  const at = (k: number) => new Float64Array(buffer, byteOffset + k * channels * 8, channels);
  const arrays = { sum: at(0), squares: at(1), a: at(2), b: at(3), sumG: at(4), sumGX: at(5), k1: at(6), k2: at(7), k3: at(8) };
  arrays.sum.fill(0);
  arrays.squares.fill(0);
  arrays.sumG.fill(0);
  arrays.sumGX.fill(0);
  return arrays;
}

function sumMoments(x: Float32Array, channels: number, { sum, squares }: ChannelArrays): void {
  const rows = x.length / channels;
  for (let r = 0, i = 0; r < rows; r++) {
    for (let c = 0; c < channels; c++, i++) {
      const d = x[i]! - x[c]!;
      sum[c]! += d;
      squares[c]! += d * d;
    }
  }
}

/** From the sums: mean μ, s = 1/√(σ² + ε), a = γs, b = β − aμ (per channel). */
export function finishMoments(
  firstRow: ArrayLike<number>,
  rows: number,
  scale: ArrayLike<number>,
  offset: ArrayLike<number>,
  epsilon: number,
  { sum, squares, a, b }: ChannelArrays,
): { mean: Float64Array; inverseStd: Float64Array } {
  const channels = scale.length;
  const mean = new Float64Array(channels);
  const inverseStd = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    const shifted = sum[c]! / rows;
    mean[c] = firstRow[c]! + shifted;
    inverseStd[c] = 1 / Math.sqrt(Math.max(squares[c]! / rows - shifted * shifted, 0) + epsilon);
    a[c] = scale[c]! * inverseStd[c]!;
    b[c] = offset[c]! - a[c]! * mean[c]!;
  }
  return { mean, inverseStd };
}

/**
 * From Σg and Σg·x: dβ = Σg, dγ = M·m and the coefficients of dx = g·k₁ + x·k₂ + k₃, where
 * ḡ = Σg/M, m = mean(g·x̂) = s·(Σg·x/M − μḡ), dx = γs(g − ḡ − x̂·m): k₁ = γs, k₂ = −γs²m, k₃ = −γsḡ − k₂μ.
 */
export function finishBackward(
  rows: number,
  mean: Float64Array,
  inverseStd: Float64Array,
  { a, sumG, sumGX, k1, k2, k3 }: ChannelArrays,
  dScale: Float32Array,
  dOffset: Float32Array,
): void {
  for (let c = 0; c < a.length; c++) {
    const gMean = sumG[c]! / rows;
    const gxMean = inverseStd[c]! * (sumGX[c]! / rows - mean[c]! * gMean);
    dOffset[c] = sumG[c]!;
    dScale[c] = gxMean * rows;
    k1[c] = a[c]!;
    k2[c] = -(a[c]! * inverseStd[c]! * gxMean);
    k3[c] = -(a[c]! * gMean) - k2[c]! * mean[c]!;
  }
}

function normalise(x: Float32Array, y: Float32Array, relu: boolean, { a, b }: ChannelArrays): void {
  const channels = a.length;
  const rows = x.length / channels;
  if (relu) {
    for (let r = 0, i = 0; r < rows; r++) {
      for (let c = 0; c < channels; c++, i++) {
        const z = x[i]! * a[c]! + b[c]!;
        // biome-ignore lint/complexity/useMathMinMax: Math.max keeps NaN and −0; the SIMD mask and the C++ give +0 for both
        y[i] = z > 0 ? z : 0;
      }
    }
  } else {
    for (let r = 0, i = 0; r < rows; r++) for (let c = 0; c < channels; c++, i++) y[i] = x[i]! * a[c]! + b[c]!;
  }
}

function sumGradients(x: Float32Array, dy: Float32Array, relu: boolean, { a, b, sumG, sumGX }: ChannelArrays): void {
  const channels = a.length;
  const rows = x.length / channels;
  for (let r = 0, i = 0; r < rows; r++) {
    for (let c = 0; c < channels; c++, i++) {
      const xi = x[i]!;
      const g = !relu || xi * a[c]! + b[c]! > 0 ? dy[i]! : 0;
      sumG[c]! += g;
      sumGX[c]! += g * xi;
    }
  }
}

function inputGradient(x: Float32Array, dy: Float32Array, dx: Float32Array, relu: boolean, { a, b, k1, k2, k3 }: ChannelArrays): void {
  const channels = a.length;
  const rows = x.length / channels;
  if (relu) {
    for (let r = 0, i = 0; r < rows; r++) {
      for (let c = 0; c < channels; c++, i++) {
        const xi = x[i]!;
        const g = xi * a[c]! + b[c]! > 0 ? dy[i]! : 0;
        dx[i] = g * k1[c]! + xi * k2[c]! + k3[c]!;
      }
    }
  } else {
    for (let r = 0, i = 0; r < rows; r++) {
      for (let c = 0; c < channels; c++, i++) dx[i] = dy[i]! * k1[c]! + x[i]! * k2[c]! + k3[c]!;
    }
  }
}

/** y = relu?(γ·(x − μ)·s + β), x and y [rows, channels] (see BATCH_NORM_KERNEL); JavaScript. */
export function batchNormForward(x: Float32Array, scale: Float32Array, offset: Float32Array, y: Float32Array, epsilon: number, relu: boolean): void {
  const channels = scale.length;
  const arrays = channelArrays(new ArrayBuffer(channels * 8 * CHANNEL_ARRAYS), 0, channels);
  sumMoments(x, channels, arrays);
  finishMoments(x, x.length / channels, scale, offset, epsilon, arrays);
  normalise(x, y, relu, arrays);
}

/**
 * dx, dγ, dβ of batchNormForward for upstream dy (see BATCH_NORM_GRAD_KERNEL); JavaScript. The
 * ReLU mask is recomputed from x with the forward's exact arithmetic, so it is the forward's y > 0.
 */
export function batchNormBackward(
  x: Float32Array,
  scale: Float32Array,
  offset: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
  dScale: Float32Array,
  dOffset: Float32Array,
  epsilon: number,
  relu: boolean,
): void {
  const channels = scale.length;
  const rows = x.length / channels;
  const arrays = channelArrays(new ArrayBuffer(channels * 8 * CHANNEL_ARRAYS), 0, channels);
  sumMoments(x, channels, arrays);
  const { mean, inverseStd } = finishMoments(x, rows, scale, offset, epsilon, arrays);
  sumGradients(x, dy, relu, arrays);
  finishBackward(rows, mean, inverseStd, arrays, dScale, dOffset);
  inputGradient(x, dy, dx, relu, arrays);
}

/** The upstream gradients of ConcordBatchNormGrad's outputs dx ([rows, channels]), dγ and dβ ([channels]); absent ones are zero. */
export interface GradGradUpstreams {
  readonly a?: Float32Array | undefined;
  readonly b?: Float32Array | undefined;
  readonly e?: Float32Array | undefined;
}

/**
 * Per-channel float64 state of one ConcordBatchNormGradGrad call (beside ChannelArrays): the mean
 * and 1/√(σ² + ε); the sums Σg, Σg·x̂, Σa, Σa·x̂, Σa·g (start at zero); the coefficients of
 * dX = g·k₁ + x̂·k₂ + a·k₃ + k₄ and dDy = mask·(a·l₁ + x̂·l₂ + l₃).
 */
export interface GradGradArrays {
  readonly mean: Float64Array;
  readonly inverseStd: Float64Array;
  readonly sumG: Float64Array;
  readonly sumGX: Float64Array;
  readonly sumA: Float64Array;
  readonly sumAX: Float64Array;
  readonly sumAG: Float64Array;
  readonly k1: Float64Array;
  readonly k2: Float64Array;
  readonly k3: Float64Array;
  readonly k4: Float64Array;
  readonly l1: Float64Array;
  readonly l2: Float64Array;
  readonly l3: Float64Array;
}
export const GRAD_GRAD_ARRAYS = 14;

export function gradGradArrays(buffer: ArrayBufferLike, byteOffset: number, channels: number): GradGradArrays {
  const names = ["mean", "inverseStd", "sumG", "sumGX", "sumA", "sumAX", "sumAG", "k1", "k2", "k3", "k4", "l1", "l2", "l3"] as const;
  const arrays = Object.fromEntries(
    names.map((name, k) => [name, new Float64Array(buffer, byteOffset + k * channels * 8, channels)]),
  ) as unknown as GradGradArrays;
  for (const sum of [arrays.sumG, arrays.sumGX, arrays.sumA, arrays.sumAX, arrays.sumAG]) sum.fill(0);
  return arrays;
}

function gradGradSums(
  x: Float32Array,
  dy: Float32Array,
  upstreamA: Float32Array | undefined,
  relu: boolean,
  { a, b }: ChannelArrays,
  state: GradGradArrays,
): void {
  const channels = a.length;
  const rows = x.length / channels;
  const { mean, inverseStd, sumG, sumGX, sumA, sumAX, sumAG } = state;
  for (let r = 0, i = 0; r < rows; r++) {
    for (let c = 0; c < channels; c++, i++) {
      const xi = x[i]!;
      const normalised = (xi - mean[c]!) * inverseStd[c]!;
      const g = !relu || xi * a[c]! + b[c]! > 0 ? dy[i]! : 0;
      sumG[c]! += g;
      sumGX[c]! += g * normalised;
      if (upstreamA) {
        const ai = upstreamA[i]!;
        sumA[c]! += ai;
        sumAX[c]! += ai * normalised;
        sumAG[c]! += ai * g;
      }
    }
  }
}

/**
 * From the sums: dγ = s·Σa·P(g) = s·(Σa·g − ḡ·Σa − mean(g·x̂)·Σa·x̂) and the output coefficients,
 * dX regrouped by g, x̂, a and 1 (m_ax = mean(a·x̂), m_gx = mean(g·x̂), m_ag = mean(a·g)):
 * k₁ = s·b − γs²·m_ax, k₂ = −s·b·m_gx − γs²·(m_ag − ā·ḡ − 3·m_ax·m_gx), k₃ = −γs²·m_gx,
 * k₄ = −(ḡ·k₁ + ā·k₃); dDy: l₁ = γs, l₂ = b − γs·m_ax, l₃ = e − γs·ā. Shared by the wasm SIMD path.
 */
export function gradGradCoefficients(
  rows: number,
  scale: ArrayLike<number>,
  upstreamB: ArrayLike<number> | undefined,
  upstreamE: ArrayLike<number> | undefined,
  state: GradGradArrays,
  dScale: Float32Array,
): void {
  const { inverseStd, sumG, sumGX, sumA, sumAX, sumAG, k1, k2, k3, k4, l1, l2, l3 } = state;
  for (let c = 0; c < scale.length; c++) {
    const s = inverseStd[c]!;
    const gMean = sumG[c]! / rows;
    const gxMean = sumGX[c]! / rows;
    const aMean = sumA[c]! / rows;
    const axMean = sumAX[c]! / rows;
    const agMean = sumAG[c]! / rows;
    const b = upstreamB ? upstreamB[c]! : 0;
    const e = upstreamE ? upstreamE[c]! : 0;
    const gs = scale[c]! * s;
    const gs2 = gs * s;
    dScale[c] = s * (sumAG[c]! - gMean * sumA[c]! - gxMean * sumAX[c]!);
    k1[c] = s * b - gs2 * axMean;
    k2[c] = -(s * b * gxMean) - gs2 * (agMean - aMean * gMean - 3 * axMean * gxMean);
    k3[c] = -(gs2 * gxMean);
    k4[c] = -(gMean * k1[c]! + aMean * k3[c]!);
    l1[c] = gs;
    l2[c] = b - gs * axMean;
    l3[c] = e - gs * aMean;
  }
}

function gradGradOutputs(
  x: Float32Array,
  dy: Float32Array,
  upstreamA: Float32Array | undefined,
  relu: boolean,
  { a, b }: ChannelArrays,
  { mean, inverseStd, k1, k2, k3, k4, l1, l2, l3 }: GradGradArrays,
  dX: Float32Array,
  dDy: Float32Array,
): void {
  const channels = a.length;
  const rows = x.length / channels;
  for (let r = 0, i = 0; r < rows; r++) {
    for (let c = 0; c < channels; c++, i++) {
      const xi = x[i]!;
      const normalised = (xi - mean[c]!) * inverseStd[c]!;
      const keep = !relu || xi * a[c]! + b[c]! > 0;
      const g = keep ? dy[i]! : 0;
      if (upstreamA) {
        const ai = upstreamA[i]!;
        dX[i] = g * k1[c]! + normalised * k2[c]! + ai * k3[c]! + k4[c]!;
        dDy[i] = keep ? ai * l1[c]! + normalised * l2[c]! + l3[c]! : 0;
      } else {
        dX[i] = g * k1[c]! + normalised * k2[c]! + k4[c]!;
        dDy[i] = keep ? normalised * l2[c]! + l3[c]! : 0;
      }
    }
  }
}

/**
 * ConcordBatchNormGradGrad (see BATCH_NORM_GRAD_GRAD_KERNEL): dX, dγ and dDy of
 * L = ⟨a, dx⟩ + ⟨b, dγ⟩ + ⟨e, dβ⟩ where dx, dγ, dβ = batchNormBackward(x, γ, β, dy); JavaScript.
 * Three passes over x: moments (as the forward's), the sums, the outputs.
 */
export function batchNormGradGrad(
  x: Float32Array,
  scale: Float32Array,
  offset: Float32Array,
  dy: Float32Array,
  upstream: GradGradUpstreams,
  dX: Float32Array,
  dScale: Float32Array,
  dDy: Float32Array,
  epsilon: number,
  relu: boolean,
): void {
  const channels = scale.length;
  const rows = x.length / channels;
  const buffer = new ArrayBuffer(channels * 8 * (CHANNEL_ARRAYS + GRAD_GRAD_ARRAYS));
  const arrays = channelArrays(buffer, 0, channels);
  const state = gradGradArrays(buffer, channels * 8 * CHANNEL_ARRAYS, channels);
  sumMoments(x, channels, arrays);
  const { mean, inverseStd } = finishMoments(x, rows, scale, offset, epsilon, arrays);
  state.mean.set(mean);
  state.inverseStd.set(inverseStd);
  gradGradSums(x, dy, upstream.a, relu, arrays, state);
  gradGradCoefficients(rows, scale, upstream.b, upstream.e, state, dScale);
  gradGradOutputs(x, dy, upstream.a, relu, arrays, state, dX, dDy);
}
