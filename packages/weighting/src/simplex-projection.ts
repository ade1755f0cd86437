/**
 * Euclidean projection onto the probability simplex Δ = { p : p_g ≥ 0, Σ_g p_g = 1 },
 *
 *     Π_Δ(v) = argmin_{p ∈ Δ} ‖p − v‖₂ = max(v − θ, 0),
 *
 * with the threshold θ found by sorting (Duchi, Shalev-Shwartz, Singer & Chandra, "Efficient
 * Projections onto the ℓ1-Ball for Learning in High Dimensions", ICML 2008, Figure 1): with μ the
 * values in decreasing order, ρ = max{ j : μ_j − (Σ_{r≤j} μ_r − 1)/j > 0 } and
 * θ = (Σ_{r≤ρ} μ_r − 1)/ρ. O(G log G), in float64. `values` must be finite and non-empty.
 */
export function projectOntoSimplex(values: readonly number[]): number[] {
  const sorted = [...values].sort((a, b) => b - a);
  let cumulative = 0;
  let threshold = 0;
  for (let j = 0; j < sorted.length; j++) {
    cumulative += sorted[j]!;
    const candidate = (cumulative - 1) / (j + 1);
    // The condition holds for a prefix of j (always for j = 0), so the last j that meets it is ρ.
    if (sorted[j]! - candidate > 0) threshold = candidate;
  }
  return values.map((value) => Math.max(value - threshold, 0));
}
