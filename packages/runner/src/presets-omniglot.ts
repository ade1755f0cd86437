import type { ExperimentConfigInput } from "./config.js";
import type { Preset } from "./presets.js";

interface OmniglotSetting {
  readonly ways: number;
  readonly shots: number;
  readonly innerLr: number;
  readonly innerSteps: number;
  readonly evaluationSteps: number;
  readonly metaBatchSize: number;
  readonly order: 1 | 2;
}

/**
 * MAML's Omniglot setting (Finn et al. 2017, sec. 5.2 and appendix A.1; reference code
 * `main.py` flags): the 4-block CNN with 64 filters and transductive batch norm, N-way K-shot
 * episodes with K query images per class (the code draws 2K images per class and splits them),
 * MAML's split (1200 training characters with rotations, the other 423 for test), inner SGD with
 * α, Adam β = 1e-3, 60 000 meta-iterations, 600 test tasks. The data folder is `tasks.dataDir`
 * (and `evaluation.sampler.dataDir`), default `../shared/data/omniglot` beside the repository.
 */
function omniglotConfig(setting: OmniglotSetting): ExperimentConfigInput {
  const episodes = { ways: setting.ways, shots: setting.shots, queryShots: setting.shots };
  return {
    seed: 0,
    iterations: 60_000,
    metaBatchSize: setting.metaBatchSize,
    backend: "auto",
    weighting: "uniform",
    algorithm: { name: "maml", order: setting.order, innerSteps: setting.innerSteps },
    model: { name: "conv-net", ways: setting.ways, inputShape: [28, 28, 1], filters: 64, blocks: 4, batchNorm: "transductive" },
    tasks: { name: "omniglot", ...episodes, split: "train" },
    objective: "cross-entropy",
    innerOptimizer: { name: "sgd", lr: setting.innerLr },
    outerOptimizer: { name: "adam", lr: 0.001 },
    evaluation: { tasks: 600, innerSteps: setting.evaluationSteps, sampler: { name: "omniglot", ...episodes, split: "test" } },
    checkpointEvery: 500,
    logEvery: 50,
  };
}

const fiveWay = { ways: 5, innerLr: 0.4, innerSteps: 1, evaluationSteps: 3, metaBatchSize: 32 } as const;
const twentyWay = { ways: 20, innerLr: 0.1, innerSteps: 5, evaluationSteps: 5, metaBatchSize: 16 } as const;

const settings: readonly { name: string; setting: Omit<OmniglotSetting, "order">; paper: string; paperFirstOrder: string }[] = [
  { name: "omniglot-5w1s", setting: { ...fiveWay, shots: 1 }, paper: "MAML 98.7%", paperFirstOrder: "first-order MAML 98.3%" },
  { name: "omniglot-5w5s", setting: { ...fiveWay, shots: 5 }, paper: "MAML 99.9%", paperFirstOrder: "first-order MAML 99.2%" },
  { name: "omniglot-20w1s", setting: { ...twentyWay, shots: 1 }, paper: "MAML 95.8%", paperFirstOrder: "first-order MAML 89.4%" },
];

/** omniglot-5w1s, -5w5s, -20w1s (second-order MAML) and their first-order variants (suffix -fo). */
export const OMNIGLOT_PRESETS: readonly Preset[] = settings.flatMap(({ name, setting, paper, paperFirstOrder }) =>
  ([2, 1] as const).map((order) => {
    const { ways, shots, innerLr, innerSteps, evaluationSteps, metaBatchSize } = setting;
    return {
      name: order === 2 ? name : `${name}-fo`,
      description:
        `Omniglot ${ways}-way ${shots}-shot, MAML paper setting (${order === 2 ? "second" : "first"}-order): conv-net 4×64, ` +
        `${innerSteps} inner step${innerSteps > 1 ? "s" : ""} α=${innerLr} (${evaluationSteps} at test), meta-batch ${metaBatchSize}, ` +
        `Adam 1e-3, 60k iterations (paper: ${order === 2 ? paper : paperFirstOrder})`,
      config: omniglotConfig({ ...setting, order }),
    };
  }),
);
