// The arithmetic of the three cross-entropy kernels (contract.ts) on plain typed arrays, one row of C
// logits at a time: each row's max, log-sum-exp and softmax in float64, every output rounded once
// to float32 when stored. Used by the cpu kernels and, on the wasm heap, by the wasm ones (the rows
// are tiny: 5 × 5 logits per Omniglot task, so the launch, not the loop, is what costs).

/** Throws unless every label is an integer in [0, classes): a bad label must never index a row. */
export function checkLabels(kernelName: string, labels: Int32Array, classes: number): void {
  for (let r = 0; r < labels.length; r++) {
    const label = labels[r]!;
    if (!(label >= 0 && label < classes)) throw new Error(`${kernelName}: expected labels in [0, ${classes}), got ${label} at position ${r}`);
  }
}

/** log Σ_c exp(z_c) of the row at `start` in float64, shifted by the row's max against overflow. */
function logSumExp(logits: Float32Array, start: number, classes: number): number {
  let max = -Infinity;
  for (let c = 0; c < classes; c++) max = Math.max(max, logits[start + c]!);
  let sum = 0;
  for (let c = 0; c < classes; c++) sum += Math.exp(logits[start + c]! - max);
  return max + Math.log(sum);
}

/** loss[r] = logSumExp(z_r) − z_r[y_r] for every row. */
export function crossEntropyForward(logits: Float32Array, labels: Int32Array, classes: number, loss: Float32Array): void {
  for (let r = 0; r < labels.length; r++) {
    const start = r * classes;
    loss[r] = logSumExp(logits, start, classes) - logits[start + labels[r]!]!;
  }
}

/**
 * dLogits[r, c] = u_r · (p_rc − [c = y_r]) with p_r = softmax(z_r); the label's entry as
 * −u_r·Σ_{c ≠ y} p_rc, which keeps its precision when p_ry is close to 1.
 */
export function crossEntropyBackward(logits: Float32Array, labels: Int32Array, dy: Float32Array, classes: number, dLogits: Float32Array): void {
  for (let r = 0; r < labels.length; r++) {
    const start = r * classes;
    const label = labels[r]!;
    const lse = logSumExp(logits, start, classes);
    const u = dy[r]!;
    let others = 0;
    for (let c = 0; c < classes; c++) {
      if (c === label) continue;
      const p = Math.exp(logits[start + c]! - lse);
      others += p;
      dLogits[start + c] = u * p;
    }
    dLogits[start + label] = -u * others;
  }
}

/**
 * The gradient of crossEntropyBackward's output for its upstream v (contract.ts):
 * dLogits[r, c] = u_r · p_rc · (v_rc − p_rᵀv_r) and dDy[r] = p_rᵀv_r − v_r[y_r], the latter as
 * Σ_{c ≠ y} p_rc·(v_rc − v_ry) (no cancellation when p_ry is close to 1).
 */
export function crossEntropyGradGrad(
  logits: Float32Array,
  labels: Int32Array,
  dy: Float32Array,
  upstream: Float32Array,
  classes: number,
  dLogits: Float32Array,
  dDy: Float32Array,
): void {
  const p = new Float64Array(classes);
  for (let r = 0; r < labels.length; r++) {
    const start = r * classes;
    const lse = logSumExp(logits, start, classes);
    const label = labels[r]!;
    const vLabel = upstream[start + label]!;
    let pv = 0;
    let dU = 0;
    for (let c = 0; c < classes; c++) {
      p[c] = Math.exp(logits[start + c]! - lse);
      pv += p[c]! * upstream[start + c]!;
      if (c !== label) dU += p[c]! * (upstream[start + c]! - vLabel);
    }
    const u = dy[r]!;
    for (let c = 0; c < classes; c++) dLogits[start + c] = u * p[c]! * (upstream[start + c]! - pv);
    dDy[r] = dU;
  }
}
