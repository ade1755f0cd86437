// Test-only: an independent float64 projection onto the simplex, for checking projectOntoSimplex and trMaml.

/**
 * Independent reference: bisection on the threshold θ of max(v − θ, 0), whose sum
 * f(θ) = Σ max(v_g − θ, 0) decreases from ≥ 1 at θ = min v − 1 to 0 at θ = max v.
 */
export function bisectionProjection(values: readonly number[]): number[] {
  const excess = (theta: number) => values.reduce((sum, v) => sum + Math.max(v - theta, 0), 0) - 1;
  let low = Math.min(...values) - 1;
  let high = Math.max(...values);
  for (let step = 0; step < 200 && high - low > 0; step++) {
    const middle = (low + high) / 2;
    if (middle === low || middle === high) break;
    if (excess(middle) > 0) low = middle;
    else high = middle;
  }
  const theta = (low + high) / 2;
  return values.map((v) => Math.max(v - theta, 0));
}
