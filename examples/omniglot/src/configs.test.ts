// The committed experiment configs stay loadable as the config schema evolves, and the 60 000-iteration
// config stays a continuation of the 20 000-iteration runs (--resume accepts only iterations,
// keepCheckpoints and the description differing).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { convNet } from "@concord/models";
import { loadConfigFile } from "@concord/runner";
import { describe, expect, it } from "vitest";

const configsDir = fileURLToPath(new URL("../configs/", import.meta.url));
const names = readdirSync(configsDir).filter((name) => name.endsWith(".json"));

describe("examples/omniglot/configs", () => {
  it("has the committed configs", () => {
    expect(names).toEqual(expect.arrayContaining(["label-noise-5w1s-fo.json", "paper-5w1s-fo.json", "paper-5w1s-fo-60k.json", "protonet-support-bn.json"]));
  });

  it.each(names)("%s loads", async (name) => {
    const config = await loadConfigFile(join(configsDir, name));
    expect(config.tasks.name).toBe("omniglot");
  });

  it("paper-5w1s-fo-60k.json continues paper-5w1s-fo.json", () => {
    const read = (name: string) => JSON.parse(readFileSync(join(configsDir, name), "utf8"));
    const { iterations, keepCheckpoints, description: _d, ...rest } = read("paper-5w1s-fo-60k.json");
    const { iterations: before, keepCheckpoints: keptBefore, description: _b, ...restBefore } = read("paper-5w1s-fo.json");
    expect(rest).toEqual(restBefore);
    expect([before, iterations]).toEqual([20_000, 60_000]);
    expect(keepCheckpoints).toEqual(expect.arrayContaining(keptBefore));
  });

  // MAML's α = 0.4 acts on Σ CE / K over the N·K support examples (cbfinn/maml's xent and
  // tf.gradients), N times Concord's mean cross-entropy: the same step is α·N on the mean.
  it("maml-step-5w1s-fo-60k.json is paper-5w1s-fo-60k.json with the inner step scaled by the ways", () => {
    const read = (file: string) => JSON.parse(readFileSync(join(configsDir, file), "utf8"));
    const { description: _d, innerOptimizer, ...rest } = read("maml-step-5w1s-fo-60k.json");
    const { description: _p, innerOptimizer: paperInner, ...paperRest } = read("paper-5w1s-fo-60k.json");
    expect(rest).toEqual(paperRest);
    expect(innerOptimizer).toEqual({ ...paperInner, lr: paperInner.lr * paperRest.tasks.ways });
  });

  it("maml-code-5w1s-fo-60k.json is maml-net-5w1s-fo-60k.json with maml-step's inner step", () => {
    const read = (file: string) => JSON.parse(readFileSync(join(configsDir, file), "utf8"));
    const { description: _d, innerOptimizer, ...rest } = read("maml-code-5w1s-fo-60k.json");
    const { description: _n, innerOptimizer: _i, ...network } = read("maml-net-5w1s-fo-60k.json");
    expect(rest).toEqual(network);
    expect(innerOptimizer).toEqual(read("maml-step-5w1s-fo-60k.json").innerOptimizer);
  });

  // The network-gap runs are the paper runs with only the network changed, so a paired comparison
  // at equal iterations isolates it.
  it.each([
    ["maml-net-5w1s-fo-60k.json", { downsample: "strided", batchNormScale: false, headInit: "normal" }],
    ["strided-net-5w1s-fo-60k.json", { downsample: "strided" }],
  ])("%s is paper-5w1s-fo-60k.json with only the network changed", (name, networkOptions) => {
    const read = (file: string) => JSON.parse(readFileSync(join(configsDir, file), "utf8"));
    const { description: _d, model, algorithm, ...rest } = read(name);
    const { description: _p, model: paperModel, algorithm: paperAlgorithm, ...paperRest } = read("paper-5w1s-fo-60k.json");
    expect(rest).toEqual(paperRest);
    expect(model).toEqual({ ...paperModel, ...networkOptions });
    const { adapt, ...algorithmRest } = algorithm;
    expect(algorithmRest).toEqual(paperAlgorithm);
    if (name.startsWith("maml-net")) {
      // MAML's β is meta-learned, not adapted: every parameter but the batch-norm offsets.
      const { name: _n, ...options } = model;
      expect(adapt).toEqual(convNet(options).parameterNames.filter((parameter) => !parameter.includes("/bn/")));
    } else expect(adapt).toBeUndefined();
  });
});
