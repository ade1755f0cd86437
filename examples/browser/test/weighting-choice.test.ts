/**
 * The meta-train view's weighting choices (no browser needed): each description builds the scheme it
 * names with its options (checked on hand-worked weights), bad descriptions get a ConcordError naming
 * the field, and the trainer runs any pair of schemes without leaking tensors.
 */
import * as tf from "@tensorflow/tfjs-core";
import { ConcordError, createRng } from "@concord/core";
import { sinusoid } from "@concord/tasks";
import { beforeAll, describe, expect, it } from "vitest";
import { SinusoidTrainer } from "../src/meta-train/trainer.js";
import { DEFAULT_ARMS, DEFAULT_CHOICES, WEIGHTING_NAMES, type WeightingChoice, weightingKey, weightingLabel } from "../src/meta-train/weighting-choice.js";
import { checkArmChoices, weightingFromChoice } from "../src/meta-train/weighting-from-choice.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

/** The weights `choice`'s scheme gives on successive calls with the same input, as numbers. */
function weightsOf(choice: WeightingChoice, input: { updates: number[][]; losses: number[]; groups?: number[] }, calls = 1): number[][] {
  const scheme = weightingFromChoice(choice, "weightings[0]");
  const updates = tf.tensor2d(input.updates);
  const losses = tf.tensor1d(input.losses);
  try {
    return Array.from({ length: calls }, (_, iteration) => {
      const { weights } = scheme.weights({ updates, losses, iteration, ...(input.groups ? { groups: input.groups } : {}) });
      const values = Array.from(weights.dataSync());
      weights.dispose();
      return values;
    });
  } finally {
    tf.dispose([updates, losses]);
  }
}

/** The ConcordError `run` throws. */
function errorOf(run: () => unknown): ConcordError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConcordError);
    return error as ConcordError;
  }
  throw new Error("expected a ConcordError, nothing was thrown");
}

describe("a weighting choice builds the scheme it describes", () => {
  const updates = [
    [1, 2],
    [2, 1],
    [1, 1],
  ];
  const losses = [0.7, 0.4, 0.9];

  it("uniform: 1/3 each; agreement: the paper's reference weights (0.375, 0.375, 0.25)", () => {
    expect(weightsOf({ name: "uniform" }, { updates, losses })[0]).toEqual([1 / 3, 1 / 3, 1 / 3].map(Math.fround));
    const agreement = weightsOf({ name: "agreement" }, { updates, losses })[0]!;
    [0.375, 0.375, 0.25].forEach((w, i) => expect(agreement[i]).toBeCloseTo(w, 6));
  });

  it("cosine agreement: s_i = Σ_j cos(g_i, g_j), w = s / Σ|s| (worked in float64)", () => {
    const unit = updates.map((row) => row.map((value) => value / Math.hypot(...row)));
    const s = unit.map((u) => unit.reduce((sum, v) => sum + u[0]! * v[0]! + u[1]! * v[1]!, 0));
    const total = s.reduce((sum, value) => sum + Math.abs(value), 0);
    const got = weightsOf({ name: "cosine-agreement" }, { updates, losses })[0]!;
    s.forEach((value, i) => expect(got[i]).toBeCloseTo(value / total, 6));
  });

  it("tail risk with its alpha: α = 0.5 of 3 tasks is k = 2, the two largest losses get 1/2", () => {
    expect(weightsOf({ name: "tail-risk", alpha: 0.5 }, { updates, losses })[0]).toEqual([0.5, 0, 0.5]);
    // The preset's α = 0.1 keeps only the worst task.
    expect(weightsOf(DEFAULT_CHOICES["tail-risk"], { updates, losses })[0]).toEqual([0, 0, 1]);
  });

  it("loss softmax with its temperature: exp(L_i/τ) / Σ_j exp(L_j/τ) (worked in float64)", () => {
    for (const temperature of [1, 0.25]) {
      const terms = losses.map((loss) => Math.exp(loss / temperature));
      const total = terms.reduce((sum, term) => sum + term, 0);
      const got = weightsOf({ name: "loss-softmax", temperature }, { updates, losses })[0]!;
      terms.forEach((term, i) => expect(got[i], `τ ${temperature}`).toBeCloseTo(term / total, 6));
    }
  });

  it("TR-MAML with its groups and lr: per-group weights, then p moves by lr · group mean loss (hand-worked)", () => {
    // Tasks 0 and 1 in group 0, task 2 in group 1. p = (1/2, 1/2): w = p_g / (n_g Σp) = (1/4, 1/4, 1/2).
    // Then p + 0.5 · (mean(0.7, 0.4), 0.9) = (0.775, 0.95), projected onto the simplex (subtract 0.3625
    // from both) = (0.4125, 0.5875), so the second call gives (0.20625, 0.20625, 0.5875).
    const [first, second] = weightsOf({ name: "tr-maml", groups: 2, lr: 0.5 }, { updates, losses, groups: [0, 0, 1] }, 2);
    expect(first).toEqual([0.25, 0.25, 0.5]);
    [0.20625, 0.20625, 0.5875].forEach((w, i) => expect(second![i]).toBeCloseTo(w, 6));
  });

  it("the defaults are the sinusoid presets' options, and keys and labels name them", () => {
    expect(DEFAULT_ARMS.map(weightingKey)).toEqual(["uniform", "agreement"]);
    expect(WEIGHTING_NAMES.map((name) => weightingKey(DEFAULT_CHOICES[name]))).toEqual([
      "uniform",
      "agreement",
      "cosine-agreement",
      "tail-risk(alpha=0.1)",
      "loss-softmax(temperature=1)",
      "tr-maml(groups=5,lr=0.01)",
    ]);
    expect(WEIGHTING_NAMES.map((name) => weightingLabel(DEFAULT_CHOICES[name]))).toEqual([
      "uniform",
      "gradient agreement",
      "cosine agreement",
      "tail risk (α = 0.1)",
      "loss softmax (τ = 1)",
      "TR-MAML (5 groups, lr = 0.01)",
    ]);
  });
});

describe("bad weighting choices get a ConcordError naming the field", () => {
  it.each([
    ["an unknown name", { name: "agreeement" }, "weightings[0].name", /expected one of "uniform", "agreement", .*got "agreeement"/],
    ["not an object", "uniform", "weightings[0]", /expected \{ name, \.\.\.options \}/],
    ["a missing option (never silently defaulted)", { name: "loss-softmax" }, "weightings[0].temperature", /loss-softmax needs temperature/],
    ["an option the scheme does not take", { name: "agreement", alpha: 0.1 }, "weightings[0]", /agreement takes no options; got also "alpha"/],
    ["alpha out of (0, 1]", { name: "tail-risk", alpha: 0 }, "weightings[0].alpha", /expected a number in \(0, 1\]/],
    ["alpha NaN (an empty input)", { name: "tail-risk", alpha: Number.NaN }, "weightings[0].alpha", /expected a number in \(0, 1\]/],
    ["a temperature ≤ 0", { name: "loss-softmax", temperature: -1 }, "weightings[0].temperature", /expected a finite number > 0/],
    ["fractional groups", { name: "tr-maml", groups: 2.5, lr: 0.01 }, "weightings[0].groups", /expected an integer/],
    ["a negative lr", { name: "tr-maml", groups: 5, lr: -0.1 }, "weightings[0].lr", /expected a finite number/],
  ])("%s", (_, choice, field, message) => {
    const error = errorOf(() => weightingFromChoice(choice, "weightings[0]"));
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
    expect(error.message.startsWith(`${field}: `)).toBe(true);
  });

  it("two arms with the same scheme and options are refused; the same scheme with other options is fine", () => {
    const error = errorOf(() => checkArmChoices([DEFAULT_CHOICES["tail-risk"], { name: "tail-risk", alpha: 0.1 }]));
    expect(error.field).toBe("weightings");
    expect(error.message).toMatch(/arms 0 and 1 are both tail-risk\(alpha=0.1\)/);
    expect(checkArmChoices([DEFAULT_CHOICES["tail-risk"], { name: "tail-risk", alpha: 0.5 }])).toHaveLength(2);
    expect(errorOf(() => checkArmChoices([])).field).toBe("weightings");
    expect(errorOf(() => checkArmChoices([{ name: "uniform" }, { name: "x" }])).field).toBe("weightings[1].name");
  });
});

describe("the trainer with chosen schemes", () => {
  it("a bad choice is refused before any tensor exists", () => {
    const before = tf.memory().numTensors;
    const error = errorOf(() => new SinusoidTrainer("fomaml", 0, 0, [DEFAULT_CHOICES.uniform, { name: "tail-risk", alpha: 2 }]));
    expect(error.field).toBe("weightings[1].alpha");
    expect(tf.memory().numTensors).toBe(before);
  });

  it("runs TR-MAML (3 bands) against loss softmax: finite, different losses, tensors flat across iterations and freed on dispose", () => {
    const before = tf.memory().numTensors;
    const trainer = new SinusoidTrainer("fomaml", 1, 0.2, [{ name: "tr-maml", groups: 3, lr: 0.01 }, DEFAULT_CHOICES["loss-softmax"]]);
    try {
      const first = trainer.step();
      expect(first.map((arm) => arm.arm)).toEqual(["tr-maml(groups=3,lr=0.01)", "loss-softmax(temperature=1)"]);
      // Same tasks, same start: the first meta-batch's losses agree; the schemes' updates then differ.
      expect(first[0]!.trainLoss).toBe(first[1]!.trainLoss);
      const during = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) trainer.step();
      expect(tf.memory().numTensors).toBe(during);
      const heldOut = trainer.heldOutLosses();
      expect(heldOut.every(Number.isFinite)).toBe(true);
      expect(heldOut[0]).not.toBe(heldOut[1]);
      expect(tf.memory().numTensors).toBe(during);
    } finally {
      trainer.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it("TR-MAML's groups are the arm's amplitude bands (3 groups would refuse the default 5 bands' group ids 3 and 4)", () => {
    // Control: the default sampler's meta-batch has tasks in bands 3 and 4, which a 3-group TR-MAML refuses.
    const tasks = sinusoid().sample(25, createRng(1));
    const groups = tasks.map((task) => task.group!);
    expect(Math.max(...groups)).toBeGreaterThanOrEqual(3);
    const error = errorOf(() => weightsOf({ name: "tr-maml", groups: 3, lr: 0.01 }, { updates: groups.map(() => [1]), losses: groups.map(() => 1), groups }));
    expect(error.message).toMatch(/group/);
    for (const task of tasks) tf.dispose([task.support.x, task.support.y, task.query.x, task.query.y]);
    // The trainer gives the TR-MAML arm 3 bands, so the same seed's stream trains.
    const trainer = new SinusoidTrainer("fomaml", 1, 0, [{ name: "tr-maml", groups: 3, lr: 0.01 }, DEFAULT_CHOICES.uniform]);
    try {
      expect(trainer.step().every((arm) => Number.isFinite(arm.trainLoss))).toBe(true);
    } finally {
      trainer.dispose();
    }
  });
});
