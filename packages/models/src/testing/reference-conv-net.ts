// An independent float64 implementation of convNet (plain loops, no tf) for tests: forward pass,
// softmax cross-entropy, and MAML's meta-objective with the inner gradient by central differences.

export interface ReferenceConvNet {
  readonly inputShape: readonly [number, number, number];
  readonly filters: number;
  readonly blocks: number;
  readonly ways: number;
  readonly epsilon: number;
  /** "strided": stride-2 TensorFlow-'SAME' convolutions, no pools, the last map averaged over its pixels. */
  readonly downsample: "max-pool" | "strided";
  /** false: batch norm has an offset and no scale parameter. */
  readonly batchNormScale: boolean;
  /** Parameter names and shapes in flattening order (as convNet's parameterNames). */
  readonly layout: readonly { readonly name: string; readonly shape: readonly number[] }[];
}

/** Images [count, h, w, c] flattened row-major (NHWC) and integer labels. */
export interface ReferenceBatch {
  readonly x: Float64Array;
  readonly count: number;
  readonly labels: readonly number[];
}

export interface ReferenceTask {
  readonly support: ReferenceBatch;
  readonly query: ReferenceBatch;
}

export function referenceConvNet(options: {
  inputShape: readonly [number, number, number];
  filters: number;
  blocks: number;
  ways: number;
  epsilon?: number;
  downsample?: "max-pool" | "strided";
  batchNormScale?: boolean;
}): ReferenceConvNet {
  const { inputShape, filters, blocks, ways, downsample = "max-pool", batchNormScale = true } = options;
  const layout: { name: string; shape: number[] }[] = [];
  let [h, w, c] = inputShape;
  for (let b = 0; b < blocks; b++) {
    layout.push({ name: `block${b}/conv/weight`, shape: [3, 3, c, filters] });
    layout.push({ name: `block${b}/conv/bias`, shape: [filters] });
    if (batchNormScale) layout.push({ name: `block${b}/bn/scale`, shape: [filters] });
    layout.push({ name: `block${b}/bn/offset`, shape: [filters] });
    c = filters;
    h = Math.floor(h / 2);
    w = Math.floor(w / 2);
  }
  const features = downsample === "strided" ? filters : h * w * c;
  if (ways > 0) {
    layout.push({ name: "head/weight", shape: [features, ways] });
    layout.push({ name: "head/bias", shape: [ways] });
  }
  return { inputShape, filters, blocks, ways, epsilon: options.epsilon ?? 1e-3, downsample, batchNormScale, layout };
}

export function referenceParameterCount(net: ReferenceConvNet): number {
  return net.layout.reduce((total, { shape }) => total + shape.reduce((a, b) => a * b, 1), 0);
}

/**
 * Logits [count, ways] (row-major) for parameters θ flattened in layout order; the features
 * [count, h·w·c] when ways is 0. With `statisticsFrom`, every batch-norm layer normalises with the
 * moments of that batch (run through the same layers alongside), else with the batch's own.
 */
export function referenceForward(net: ReferenceConvNet, theta: Float64Array, batch: ReferenceBatch, statisticsFrom?: ReferenceBatch): Float64Array {
  let offset = 0;
  const take = (size: number) => {
    const view = theta.subarray(offset, offset + size);
    offset += size;
    return view;
  };
  const source = statisticsFrom ?? batch;
  const strided = net.downsample === "strided";
  let [h, w, c] = net.inputShape;
  let act = batch.x;
  let sourceAct = source.x;
  for (let b = 0; b < net.blocks; b++) {
    const f = net.filters;
    const weight = take(9 * c * f);
    const bias = take(f);
    const scale = net.batchNormScale ? take(f) : new Float64Array(f).fill(1);
    const shift = take(f);
    const conv = (values: Float64Array, n: number) =>
      strided ? convolveStrided(values, n, h, w, c, f, weight, bias) : convolve(values, n, h, w, c, f, weight, bias);
    const z = conv(act, batch.count);
    const sourceZ = statisticsFrom ? conv(sourceAct, source.count) : z;
    if (strided) {
      h = Math.ceil(h / 2);
      w = Math.ceil(w / 2);
    }
    // Batch norm with the per-channel moments of the statistics batch, then ReLU.
    const count = source.count * h * w;
    const normalise = (values: Float64Array, mean: number, inv: number, o: number) => {
      for (let p = 0; p < values.length / f; p++) values[p * f + o] = Math.max(0, (values[p * f + o]! - mean) * inv * scale[o]! + shift[o]!);
    };
    for (let o = 0; o < f; o++) {
      let mean = 0;
      for (let p = 0; p < count; p++) mean += sourceZ[p * f + o]!;
      mean /= count;
      let variance = 0;
      for (let p = 0; p < count; p++) variance += (sourceZ[p * f + o]! - mean) ** 2;
      variance /= count;
      const inv = 1 / Math.sqrt(variance + net.epsilon);
      normalise(z, mean, inv, o);
      if (statisticsFrom) normalise(sourceZ, mean, inv, o);
    }
    c = f;
    if (strided) {
      act = z;
      sourceAct = sourceZ;
      continue;
    }
    act = maxPool(z, batch.count, h, w, f);
    if (statisticsFrom) sourceAct = maxPool(sourceZ, source.count, h, w, f);
    h = Math.floor(h / 2);
    w = Math.floor(w / 2);
  }
  if (strided) {
    act = meanOverPixels(act, batch.count, h * w, c);
    h = 1;
    w = 1;
  }
  const features = h * w * c;
  if (net.ways === 0) return act;
  const n = batch.count;
  const headWeight = take(features * net.ways);
  const headBias = take(net.ways);
  const logits = new Float64Array(n * net.ways);
  for (let i = 0; i < n; i++)
    for (let o = 0; o < net.ways; o++) {
      let sum = headBias[o]!;
      for (let k = 0; k < features; k++) sum += act[i * features + k]! * headWeight[k * net.ways + o]!;
      logits[i * net.ways + o] = sum;
    }
  return logits;
}

/** 3×3 'same' convolution (zero padding 1), weight [kh, kw, cin, cout], of n images [h, w, c]. */
function convolve(act: Float64Array, n: number, h: number, w: number, c: number, f: number, weight: Float64Array, bias: Float64Array): Float64Array {
  return convolveWith(act, n, h, w, c, f, weight, bias, { stride: 1, outHeight: h, outWidth: w, top: 1, left: 1 });
}

/**
 * 3×3 convolution with stride 2 and TensorFlow's 'SAME' padding: ⌈h/2⌉ × ⌈w/2⌉ outputs, total
 * padding max(2·(out − 1) + 3 − in, 0) per axis with the smaller half at the top/left.
 */
function convolveStrided(act: Float64Array, n: number, h: number, w: number, c: number, f: number, weight: Float64Array, bias: Float64Array): Float64Array {
  const outHeight = Math.ceil(h / 2);
  const outWidth = Math.ceil(w / 2);
  const top = Math.floor(Math.max(2 * (outHeight - 1) + 3 - h, 0) / 2);
  const left = Math.floor(Math.max(2 * (outWidth - 1) + 3 - w, 0) / 2);
  return convolveWith(act, n, h, w, c, f, weight, bias, { stride: 2, outHeight, outWidth, top, left });
}

/** 3×3 convolution whose output (y, x) reads input rows stride·y − top + dy and columns stride·x − left + dx (zero outside). */
function convolveWith(
  act: Float64Array,
  n: number,
  h: number,
  w: number,
  c: number,
  f: number,
  weight: Float64Array,
  bias: Float64Array,
  geometry: { stride: number; outHeight: number; outWidth: number; top: number; left: number },
): Float64Array {
  const { stride, outHeight: oh, outWidth: ow, top, left } = geometry;
  const z = new Float64Array(n * oh * ow * f);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < oh; y++)
      for (let x = 0; x < ow; x++)
        for (let o = 0; o < f; o++) {
          let sum = bias[o]!;
          for (let dy = 0; dy < 3; dy++) {
            const yy = stride * y + dy - top;
            if (yy < 0 || yy >= h) continue;
            for (let dx = 0; dx < 3; dx++) {
              const xx = stride * x + dx - left;
              if (xx < 0 || xx >= w) continue;
              for (let k = 0; k < c; k++) sum += act[((i * h + yy) * w + xx) * c + k]! * weight[((dy * 3 + dx) * c + k) * f + o]!;
            }
          }
          z[((i * oh + y) * ow + x) * f + o] = sum;
        }
  return z;
}

/** The mean of each image's pixels per channel: [n, pixels, f] → [n, f]. */
function meanOverPixels(act: Float64Array, n: number, pixels: number, f: number): Float64Array {
  const out = new Float64Array(n * f);
  for (let i = 0; i < n; i++) for (let p = 0; p < pixels; p++) for (let o = 0; o < f; o++) out[i * f + o]! += act[(i * pixels + p) * f + o]! / pixels;
  return out;
}

/** 2×2 max-pool, stride 2, 'valid'. */
function maxPool(z: Float64Array, n: number, h: number, w: number, f: number): Float64Array {
  const ph = Math.floor(h / 2);
  const pw = Math.floor(w / 2);
  const pooled = new Float64Array(n * ph * pw * f);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < ph; y++)
      for (let x = 0; x < pw; x++)
        for (let o = 0; o < f; o++) {
          let m = Number.NEGATIVE_INFINITY;
          for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) m = Math.max(m, z[((i * h + 2 * y + dy) * w + 2 * x + dx) * f + o]!);
          pooled[((i * ph + y) * pw + x) * f + o] = m;
        }
  return pooled;
}

/** Mean softmax cross-entropy of the batch. */
export function referenceLoss(net: ReferenceConvNet, theta: Float64Array, batch: ReferenceBatch): number {
  const logits = referenceForward(net, theta, batch);
  let total = 0;
  for (let i = 0; i < batch.count; i++) {
    const row = logits.subarray(i * net.ways, (i + 1) * net.ways);
    const max = Math.max(...row);
    const logSumExp = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
    total += logSumExp - row[batch.labels[i]!]!;
  }
  return total / batch.count;
}

/** ∇θ of the batch loss by central differences in float64. */
export function referenceGradient(net: ReferenceConvNet, theta: Float64Array, batch: ReferenceBatch, step = 1e-6): Float64Array {
  const grad = new Float64Array(theta.length);
  const probe = Float64Array.from(theta);
  for (let i = 0; i < theta.length; i++) {
    probe[i] = theta[i]! + step;
    const plus = referenceLoss(net, probe, batch);
    probe[i] = theta[i]! - step;
    const minus = referenceLoss(net, probe, batch);
    probe[i] = theta[i]!;
    grad[i] = (plus - minus) / (2 * step);
  }
  return grad;
}

/** MAML's meta-objective: mean over tasks of L_query(θ − α ∇L_support(θ)) after `innerSteps` SGD steps. */
export function referenceMetaObjective(net: ReferenceConvNet, theta: Float64Array, tasks: readonly ReferenceTask[], innerLr: number, innerSteps = 1): number {
  let total = 0;
  for (const task of tasks) {
    let adapted = theta;
    for (let s = 0; s < innerSteps; s++) {
      const grad = referenceGradient(net, adapted, task.support);
      adapted = adapted.map((value, i) => value - innerLr * grad[i]!);
    }
    total += referenceLoss(net, adapted, task.query);
  }
  return total / tasks.length;
}
