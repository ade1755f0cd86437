import { join } from "node:path";
import type { ExperimentConfig, PluginSpec } from "../config.js";
import type { Registry } from "../registry.js";

/** One arm of a comparison: an algorithm with a weighting scheme. */
export interface ArmPlan {
  readonly name: string;
  readonly algorithm: PluginSpec;
  readonly weighting: PluginSpec;
}

/** One training run: an arm on one seed, in its own folder. */
export interface RunPlan {
  readonly arm: ArmPlan;
  readonly seed: number;
  readonly config: ExperimentConfig;
  readonly outDir: string;
  readonly label: string;
}

/** The arms of a comparison: the config's own options for its algorithm/weighting, `compare.algorithms` / `compare.weightings` for others. */
export function planArms(config: ExperimentConfig, weightings: readonly string[], algorithms: readonly string[]): ArmPlan[] {
  const plans: ArmPlan[] = [];
  for (const algorithmName of algorithms) {
    const base = config.algorithm.name === algorithmName ? config.algorithm.options : {};
    const algorithm: PluginSpec = { name: algorithmName, options: { ...base, ...(config.compare.algorithms[algorithmName] ?? {}) } };
    for (const weightingName of weightings) {
      const weighting: PluginSpec =
        config.weighting.name === weightingName ? config.weighting : { name: weightingName, options: { ...(config.compare.weightings[weightingName] ?? {}) } };
      plans.push({ name: `${algorithmName}+${weightingName}`, algorithm, weighting });
    }
  }
  return plans;
}

/**
 * Every (arm, seed) run under `<outDir>/<arm>/seed-<s>`, seeds config.seed, config.seed + 1, …
 * A bad algorithm or weighting is refused (naming the command-line flag) before any run starts.
 */
export function planRuns(config: ExperimentConfig, arms: readonly ArmPlan[], seedCount: number, outDir: string, registry: Registry): RunPlan[] {
  for (const arm of arms) {
    registry.create("algorithm", arm.algorithm, `--algorithms ${arm.algorithm.name}`);
    registry.create("weighting", arm.weighting, `--weighting ${arm.weighting.name}`);
  }
  const seeds = Array.from({ length: seedCount }, (_, k) => config.seed + k);
  return arms.flatMap((arm) =>
    seeds.map((seed) => ({
      arm,
      seed,
      config: { ...config, seed, algorithm: arm.algorithm, weighting: arm.weighting },
      outDir: join(outDir, arm.name, `seed-${seed}`),
      label: `${arm.name} seed ${seed}`,
    })),
  );
}
