import { describe, expect, it } from "vitest";
import { presetBoard } from "./leaderboard.js";
import { checkRunRecord, type RunRecord } from "./run-record.js";

/** A loss record of 10 tasks in groups [0×5, 1×5]. */
function record(weighting: string, seed: number, perTaskLoss: number[], algorithm = "maml"): RunRecord {
  return {
    preset: "toy",
    algorithm,
    weighting,
    seed,
    iterations: 100,
    evaluationSeed: 7,
    step: 10,
    backend: "cpu",
    perTaskLoss,
    perTaskGroup: [0, 0, 0, 0, 0, 1, 1, 1, 1, 1],
    groupNames: ["easy", "hard"],
  };
}

const ramp = (offset: number, hard: number) => [1, 2, 3, 4, 5, hard, hard, hard, hard, hard + 10].map((v) => v + offset);

describe("presetBoard against hand-worked values", () => {
  // Seeds 0, 1, 2. Uniform: easy 1..5, hard 10,10,10,10,20 (+ seed). Tail-risk: hard tasks 2 lower, easy 1 higher.
  const records = [0, 1, 2].flatMap((seed) => [
    record("uniform", seed, ramp(seed, 10)),
    record(
      "tail-risk",
      seed,
      ramp(seed, 8).map((v, task) => (task < 5 ? v + 1 : v)),
    ),
  ]);
  const board = presetBoard(records);
  const uniform = board.arms.find((arm) => arm.weighting === "uniform")!;
  const tail = board.arms.find((arm) => arm.weighting === "tail-risk")!;

  it("per seed: the mean, the CVaR at 10% (the single worst of 10 tasks) and the worst group's mean", () => {
    // Uniform seed s: mean = (15 + 60)/10 + s = 7.5 + s; worst task 20 + s; hard group mean 12 + s.
    expect(uniform.mean.perSeed).toEqual([7.5, 8.5, 9.5]);
    expect(uniform.cvar.perSeed).toEqual([20, 21, 22]);
    expect(uniform.worstGroup!.perSeed).toEqual([12, 13, 14]);
    expect(uniform.worstGroupName).toBe("hard");
    // Seed-level: mean 8.5, s = 1, t(2) = 4.303.
    expect(uniform.mean.mean).toBeCloseTo(8.5, 12);
    expect(uniform.mean.ci95).toBeCloseTo(4.303 / Math.sqrt(3), 12);
  });

  it("versus uniform: paired per seed and per task", () => {
    // Tail-risk − uniform per seed: mean (5·1 − 5·2)/10 = −0.5, CVaR −2, worst group −2, on every seed.
    const versus = tail.versusUniform!;
    versus.mean.perSeed.forEach((value) => expect(value).toBeCloseTo(-0.5, 12));
    expect(versus.mean.ci95).toBeCloseTo(0, 12);
    versus.cvar.perSeed.forEach((value) => expect(value).toBeCloseTo(-2, 12));
    versus.worstGroup!.perSeed.forEach((value) => expect(value).toBeCloseTo(-2, 12));
    expect(versus.seedsBetter).toBe(3);
    // 30 task pairs: 15 at +1, 15 at −2; mean −0.5, s = √(30·2.25/29).
    expect(versus.meanPooledTasks.pairs).toBe(30);
    expect(versus.meanPooledTasks.mean).toBeCloseTo(-0.5, 12);
    expect(versus.meanPooledTasks.ci95).toBeCloseTo((1.96 * Math.sqrt((30 * 2.25) / 29)) / Math.sqrt(30), 12);
    expect(uniform.versusUniform).toBeUndefined();
  });

  it("names the best arm per criterion and whether the seed-level CI of its difference to uniform excludes 0", () => {
    // Tail-risk lowers the hard tasks by r_s and raises the easy ones by 1: mean difference (5 − 5·r_s)/10.
    const boardWith = (reductions: number[]) =>
      presetBoard(
        [0, 1, 2].flatMap((seed) => [
          record("uniform", seed, ramp(seed, 10)),
          record(
            "tail-risk",
            seed,
            ramp(seed, 10 - reductions[seed]!).map((v, task) => (task < 5 ? v + 1 : v)),
          ),
        ]),
      );
    const meanVerdict = (reductions: number[]) => boardWith(reductions).verdicts.find((v) => v.criterion === "mean")!;
    // d = −0.5, −0.25, −0.75: s = 0.25, CI = 4.303·0.25/√3 = 0.62 > 0.5: best, but not resolved.
    expect(meanVerdict([2, 1.5, 2.5])).toMatchObject({ algorithm: "maml", best: "tail-risk", resolved: false });
    // d = −0.5, −0.55, −0.45: CI = 0.12: resolved.
    expect(meanVerdict([2, 2.1, 1.9])).toMatchObject({ best: "tail-risk", resolved: true });
    // Tail-risk worse everywhere (raises the hard tasks): uniform is best, margin over the runner-up resolved.
    const uniformBest = meanVerdict([-2, -2.1, -1.9]);
    expect(uniformBest).toMatchObject({ best: "uniform", runnerUp: "tail-risk", resolved: true });
    expect(uniformBest.uniformMargin!.mean).toBeCloseTo(-1.5, 12);
    expect(board.verdicts.map((v) => v.criterion)).toEqual(["mean", "cvar", "worstGroup"]);
    expect(board.metric).toBe("loss");
    expect(board.seeds).toEqual([0, 1, 2]);
  });

  it("refuses runs that are not paired (another evaluation seed) and arms missing a seed, naming them", () => {
    expect(() => presetBoard([...records, { ...record("agreement", 0, ramp(0, 10)), evaluationSeed: 8 }])).toThrow(/evaluationSeed is 8.*must be paired/);
    expect(() => presetBoard([...records, record("agreement", 0, ramp(0, 10))])).toThrow(/arm maml\+agreement of toy lacks seeds/);
  });

  it("checkRunRecord names the file and the field", () => {
    expect(() => checkRunRecord({ ...record("uniform", 0, ramp(0, 1)), perTaskGroup: [0, 5] }, "r.json")).toThrow(/r.json: expected perTaskGroup/);
    expect(() => checkRunRecord({ ...record("uniform", 0, ramp(0, 1)), seed: "0" }, "r.json")).toThrow("r.json: expected seed to be an integer");
  });
});
