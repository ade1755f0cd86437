/**
 * The weighting scheme of one meta-train arm as plain data: what the page sends the worker (functions
 * cannot cross postMessage) and what it labels the arm with. No TensorFlow.js here, so the page stays
 * light; the worker builds the scheme from it (weighting-from-choice.ts). Names are the runner's config
 * names, the options those of the @concord/weighting factories.
 */

export type WeightingChoice =
  | { readonly name: "uniform" }
  | { readonly name: "agreement" }
  | { readonly name: "cosine-agreement" }
  | { readonly name: "tail-risk"; readonly alpha: number }
  | { readonly name: "loss-softmax"; readonly temperature: number }
  | { readonly name: "tr-maml"; readonly groups: number; readonly lr: number };

export type WeightingName = WeightingChoice["name"];

export const WEIGHTING_NAMES: readonly WeightingName[] = ["uniform", "agreement", "cosine-agreement", "tail-risk", "loss-softmax", "tr-maml"];

/** The options each scheme needs, all required in a choice (a missing one is not silently defaulted). */
export const WEIGHTING_OPTIONS: Readonly<Record<WeightingName, readonly string[]>> = {
  uniform: [],
  agreement: [],
  "cosine-agreement": [],
  "tail-risk": ["alpha"],
  "loss-softmax": ["temperature"],
  "tr-maml": ["groups", "lr"],
};

/**
 * Each scheme with the sinusoid presets' options (`compare.weightings` of @concord/tasks' sinusoid
 * family: chosen once, not tuned): TR-MAML over the 5 default amplitude bands.
 */
export const DEFAULT_CHOICES: Readonly<Record<WeightingName, WeightingChoice>> = {
  uniform: { name: "uniform" },
  agreement: { name: "agreement" },
  "cosine-agreement": { name: "cosine-agreement" },
  "tail-risk": { name: "tail-risk", alpha: 0.1 },
  "loss-softmax": { name: "loss-softmax", temperature: 1 },
  "tr-maml": { name: "tr-maml", groups: 5, lr: 0.01 },
};

/** The page's two arms unless the user picks others: the comparison the view always had. */
export const DEFAULT_ARMS: readonly [WeightingChoice, WeightingChoice] = [DEFAULT_CHOICES.uniform, DEFAULT_CHOICES.agreement];

/** What each scheme does, one line each (L_i: task i's query loss after adaptation; g_i = θ − θ'_i). */
export const WEIGHTING_FORMULAS: Readonly<Record<WeightingName, { readonly title: string; readonly formula: string }>> = {
  uniform: { title: "uniform", formula: "w_i = 1/N, the classic MAML and Reptile average." },
  agreement: {
    title: "gradient agreement",
    formula: "w_i = Σ_j g_iᵀg_j / Σ_k |Σ_j g_kᵀg_j|, with g_i = θ − θ′_i the task's update; weights can be negative.",
  },
  "cosine-agreement": { title: "cosine agreement", formula: "gradient agreement on unit vectors g_i/‖g_i‖, so only the direction of each update counts." },
  "tail-risk": { title: "tail risk (α)", formula: "w_i = 1/k on the k = max(1, ⌈αN⌉) tasks with the largest query loss L_i, 0 on the others (CVaR at α)." },
  "loss-softmax": { title: "loss softmax (τ)", formula: "w_i = exp(L_i/τ) / Σ_j exp(L_j/τ)." },
  "tr-maml": {
    title: "TR-MAML (G, lr)",
    formula:
      "keeps p over G equal amplitude bands, uniform at first; w_i = p_g(i) / (n_g(i) · Σ of p over the bands in the batch), then p ← projection onto the simplex of p + lr · each band's mean L_i.",
  },
};

/** The arm's name on the page, e.g. "tail risk (α = 0.1)". */
export function weightingLabel(choice: WeightingChoice): string {
  switch (choice.name) {
    case "uniform":
      return "uniform";
    case "agreement":
      return "gradient agreement";
    case "cosine-agreement":
      return "cosine agreement";
    case "tail-risk":
      return `tail risk (α = ${choice.alpha})`;
    case "loss-softmax":
      return `loss softmax (τ = ${choice.temperature})`;
    case "tr-maml":
      return `TR-MAML (${choice.groups} groups, lr = ${choice.lr})`;
  }
}

/**
 * The arm's key in progress messages and the page's state: the config name, with the options when the
 * scheme has any ("tail-risk(alpha=0.1)"), so two arms differ in key exactly when they differ in scheme.
 */
export function weightingKey(choice: WeightingChoice): string {
  const options = WEIGHTING_OPTIONS[choice.name].map((option) => `${option}=${(choice as unknown as Record<string, number>)[option]}`);
  return options.length === 0 ? choice.name : `${choice.name}(${options.join(",")})`;
}
