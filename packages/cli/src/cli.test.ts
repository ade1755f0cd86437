import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { disposeCheckpoint, loadCheckpoint, readMetrics } from "@concord/runner";
import { tinyConfig } from "@concord/runner/testing";
import { EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, runCli } from "./cli.js";
import { formatEvaluation } from "./commands/arguments.js";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");

async function cli(args: string[], cwd: string) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), cwd });
  return { code, stdout, stderr };
}

/** Bad input: exit 2, exactly one `concord: ...` line on stderr, nothing on stdout. */
function expectOneLine(result: { code: number; stdout: string; stderr: string }, pattern: RegExp) {
  expect(result.stderr).toMatch(/^concord: [^\n]+\n$/);
  expect(result.stderr.trimEnd()).toMatch(pattern);
  expect(result.code).toBe(EXIT_BAD_INPUT);
  expect(result.stdout).toBe("");
}

function snapshot(folder: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(folder).map((name) => [
      name,
      createHash("sha256")
        .update(readFileSync(join(folder, name)))
        .digest("hex"),
    ]),
  );
}

function paramBytes(path: string): string {
  const checkpoint = loadCheckpoint(path);
  const bytes = Object.entries(checkpoint.params)
    .map(([name, tensor]) => `${name}:${Buffer.from((tensor.dataSync() as Float32Array).buffer).toString("hex")}`)
    .join("|");
  disposeCheckpoint(checkpoint);
  return bytes;
}

describe("concord CLI: every bad input gives one clear line and exit 2, losing nothing", () => {
  const cwd = mkdtempSync(join(tmpdir(), "concord-cli-"));
  const write = (name: string, value: unknown) => {
    writeFileSync(join(cwd, name), typeof value === "string" ? value : JSON.stringify(value));
    return name;
  };

  beforeAll(async () => {
    await tf.setBackend("cpu");
    write("lazy.mjs", `export default { weighting: { lazy: () => ({ name: "lazy" }) } };\n`);
    const ok = await cli(["train", write("ok.json", tinyConfig({ iterations: 6 })), "--out", "run", "--progress", "none"], cwd);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(EXIT_OK);
  });

  it("malformed JSON", async () => {
    expectOneLine(
      await cli(["train", write("bad.json", '{ "seed": 1,'), "--out", "x"], cwd),
      /^concord: .*bad\.json: expected valid JSON, got a syntax error: /,
    );
  });

  it("unknown preset", async () => {
    expectOneLine(await cli(["train", "sinusiod"], cwd), /^concord: preset: expected a config file or one of the presets .* \(did you mean "sinusoid"\?\)$/);
  });

  it("wrong types and ranges", async () => {
    expectOneLine(
      await cli(["train", write("neg.json", tinyConfig({ iterations: -5 })), "--out", "x"], cwd),
      /^concord: iterations: expected a number >= 0, got -5$/,
    );
    expectOneLine(
      await cli(["train", write("mb.json", tinyConfig({ metaBatchSize: 0 })), "--out", "x"], cwd),
      /^concord: metaBatchSize: expected a number >= 1, got 0$/,
    );
    expectOneLine(
      await cli(["train", write("type.json", tinyConfig({ seed: "one" as never })), "--out", "x"], cwd),
      /^concord: seed: expected a number, got "one"$/,
    );
    expectOneLine(await cli(["train", "ok.json", "--iterations", "-5", "--out", "x"], cwd), /^concord: --iterations: expected an integer >= 0, got "-5"$/);
    expectOneLine(await cli(["compare", "ok.json", "--weighting", "uniform", "--seeds", "0"], cwd), /^concord: --seeds: expected an integer >= 1, got "0"$/);
    expectOneLine(
      await cli(["train", "ok.json", "--backend", "gpu"], cwd),
      /^concord: option '--backend <name>' argument 'gpu' is invalid\. Allowed choices are auto, cpu, wasm, webgl, native\.$/,
    );
  });

  it("webgl in Node", async () => {
    expectOneLine(
      await cli(["train", "ok.json", "--backend", "webgl", "--out", "gl"], cwd),
      /^concord: backend: the webgl backend needs WebGL, i\.e\. a browser \(in Node use cpu or wasm\)$/,
    );
  });

  it("unknown field, with a suggestion", async () => {
    expectOneLine(
      await cli(["train", write("field.json", { ...tinyConfig(), iteratons: 5 }), "--out", "x"], cwd),
      /^concord: iteratons: unknown field; did you mean "iterations"\?$/,
    );
  });

  it("train without a config (and without --resume)", async () => {
    expectOneLine(await cli(["train"], cwd), /^concord: config: expected a config file or preset name, got nothing$/);
  });

  it("unknown command or option", async () => {
    expectOneLine(await cli(["trian"], cwd), /^concord: unknown command 'trian' \(did you mean "train"\?\)$/);
    expectOneLine(await cli(["train", "ok.json", "--itrations", "5"], cwd), /^concord: unknown option '--itrations'/);
  });

  it("a data folder for a task family without one", async () => {
    expectOneLine(await cli(["train", "ok.json", "--data", "somewhere", "--out", "x"], cwd), /^concord: tasks\.dataDir: unknown field/);
  });

  it("missing plug-in file", async () => {
    expectOneLine(
      await cli(["train", "ok.json", "--plugin", "./nope.mjs", "--out", "x"], cwd),
      /^concord: \.\/nope\.mjs: plug-in file not found \(looked at .*nope\.mjs\)$/,
    );
  });

  it("plug-in without weights()", async () => {
    expectOneLine(
      await cli(["train", write("lazy.json", tinyConfig({ weighting: "lazy" })), "--plugin", "lazy.mjs", "--out", "x"], cwd),
      /^concord: weighting: plug-in 'lazy' from lazy\.mjs has no weights\(\) function$/,
    );
  });

  it("unwritable output folder", async () => {
    write("a-file", "x");
    expectOneLine(
      await cli(["train", "ok.json", "--out", "a-file/run", "--progress", "none"], cwd),
      /^concord: --out: expected a writable output folder, got ".*a-file\/run" \(E[A-Z]+\)$/,
    );
  });

  it("an existing run without --resume, and --resume with a mismatching config", async () => {
    const before = snapshot(join(cwd, "run"));
    expectOneLine(await cli(["train", "ok.json", "--out", "run", "--progress", "none"], cwd), /^concord: --out: .*already holds a run/);
    expectOneLine(
      await cli(["train", "ok.json", "--out", "run", "--resume", "--seed", "99", "--progress", "none"], cwd),
      /^concord: seed: --resume refused: config field "seed" is 99 but the checkpoint was trained with 3$/,
    );
    expect(snapshot(join(cwd, "run"))).toEqual(before);
  });

  it("a truncated or corrupted checkpoint", async () => {
    const ok = await cli(["train", "ok.json", "--out", "broken", "--progress", "none"], cwd);
    expect(ok.code).toBe(EXIT_OK);
    const path = join(cwd, "broken", "checkpoint.ckpt");
    truncateSync(path, readFileSync(path).length - 10);
    const before = snapshot(join(cwd, "broken"));
    expectOneLine(
      await cli(["train", "ok.json", "--out", "broken", "--resume", "--iterations", "9", "--progress", "none"], cwd),
      /^concord: .*broken\/checkpoint\.ckpt: expected a Concord checkpoint, but the file is truncated or corrupted \(checksum mismatch\)$/,
    );
    expectOneLine(
      await cli(["eval", "broken/checkpoint.ckpt"], cwd),
      /checkpoint\.ckpt: expected a Concord checkpoint, but the file is truncated or corrupted/,
    );
    expect(snapshot(join(cwd, "broken"))).toEqual(before);
  });

  it("reads YAML configs", async () => {
    const yaml = write(
      "tiny.yaml",
      "seed: 1\niterations: 2\nmetaBatchSize: 2\nbackend: cpu\nalgorithm: { name: reptile, innerSteps: 1 }\nmodel: { name: mlp, sizes: [1, 4, 1] }\n" +
        "tasks: sinusoid\nobjective: mse\ninnerOptimizer: { name: sgd, lr: 0.01 }\nouterOptimizer: { name: sgd, lr: 0.1 }\nevaluation: { tasks: 4, innerSteps: 1 }\n",
    );
    const result = await cli(["train", yaml, "--out", "yaml-run", "--progress", "none"], cwd);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(EXIT_OK);
    expect(readMetrics(join(cwd, "yaml-run", "metrics.jsonl"))).toHaveLength(2);
    expectOneLine(await cli(["train", write("bad.yml", "seed: [1,"), "--out", "x"], cwd), /^concord: .*bad\.yml: expected valid YAML, got a syntax error: /);
  });

  it("a diverging run exits 1 naming the iteration and keeps the last good checkpoint", async () => {
    const config = write("diverge.json", tinyConfig({ outerOptimizer: { name: "sgd", lr: 1e30 }, checkpointEvery: 1 }));
    const result = await cli(["train", config, "--out", "diverged", "--progress", "none"], cwd);
    expect(result.code).toBe(EXIT_FAILURE);
    expect(result.stderr).toMatch(
      /^concord: iteration: training diverged at iteration (\d+): non-finite [^\n]+; the last good checkpoint \(iteration \d+\) is kept at [^\n]+\n$/,
    );
    const [, failedAt] = /at iteration (\d+)/.exec(result.stderr)!;
    const kept = loadCheckpoint(join(cwd, "diverged", "checkpoint.ckpt"));
    disposeCheckpoint(kept);
    expect(kept.iteration).toBe(Number(failedAt) - 1);
  });

  it("eval and presets work", async () => {
    const evaluated = await cli(["eval", "run/checkpoint.ckpt", "--tasks", "5", "--steps", "1"], cwd);
    expect(evaluated.code).toBe(EXIT_OK);
    expect(evaluated.stdout).toMatch(/iteration 6[\s\S]*over 5 tasks[\s\S]*1 steps: \d/);
    const written = await cli(["eval", "run/checkpoint.ckpt", "--tasks", "5", "--steps", "1", "--json", "eval-6.json"], cwd);
    expect(written.stdout).toBe(evaluated.stdout);
    const record = JSON.parse(readFileSync(join(cwd, "eval-6.json"), "utf8"));
    expect(record).toMatchObject({ checkpoint: "run/checkpoint.ckpt", iteration: 6, taskCount: 5 });
    expect(record.loss.map((s: { mean: number }) => s.mean.toFixed(4)).join(" ")).toBe(
      [...evaluated.stdout.matchAll(/steps: ([\d.]+) ±/g)].map((m) => m[1]).join(" "),
    );
    expect(record.perTaskLoss).toBeUndefined();
    expectOneLine(
      await cli(["eval", "run/checkpoint.ckpt", "--per-task"], cwd),
      /^concord: --per-task: expected --json <file> to write the per-task values to$/,
    );
    const presets = await cli(["presets"], cwd);
    expect(presets.stdout).toMatch(/^sinusoid +MAML paper/m);
    expect(presets.stdout).toMatch(/^sinusoid-outliers /m);
  });
  it("eval --per-task records, and paired: b − a on the same held-out tasks", async () => {
    const other = await cli(["train", "ok.json", "--seed", "4", "--out", "run-seed-4", "--progress", "none"], cwd);
    expect(other.code, other.stderr).toBe(EXIT_OK);
    for (const [checkpoint, out, tasks] of [
      ["run", "a.json", "8"],
      ["run-seed-4", "b.json", "8"],
      ["run-seed-4", "b-5.json", "5"],
    ] as const) {
      const written = await cli(["eval", `${checkpoint}/checkpoint.ckpt`, "--tasks", tasks, "--steps", "1", "--json", out, "--per-task"], cwd);
      expect(written.code, written.stderr).toBe(EXIT_OK);
    }
    const a = JSON.parse(readFileSync(join(cwd, "a.json"), "utf8"));
    const b = JSON.parse(readFileSync(join(cwd, "b.json"), "utf8"));
    expect(a).toMatchObject({ evaluationSeed: 20_181_017, taskCount: 8 });
    expect(a.perTaskLoss.map((step: number[]) => step.length)).toEqual([8, 8]);

    const paired = await cli(["paired", "a.json", "b.json", "--json", "paired.json"], cwd);
    expect(paired.code, paired.stderr).toBe(EXIT_OK);
    expect(paired.stdout).toMatch(
      /^paired difference over 8 shared tasks, b\.json \(iteration 6\) − a\.json \(iteration 6\), mean ± 95% CI:\n {4}0 steps: loss [+−]\d/,
    );
    const record = JSON.parse(readFileSync(join(cwd, "paired.json"), "utf8"));
    // The mean of the differences is the difference of the means; each task is counted once.
    record.loss.forEach((step: { mean: number; above: number; below: number }, index: number) => {
      expect(step.mean).toBeCloseTo(b.loss[index].mean - a.loss[index].mean, 12);
      expect(step.above + step.below).toBeLessThanOrEqual(8);
    });
    expect((await cli(["paired", "a.json", "a.json", "--json", "self.json"], cwd)).code).toBe(EXIT_OK);
    const self = JSON.parse(readFileSync(join(cwd, "self.json"), "utf8"));
    expect(self.loss.map((step: { mean: number; ci95: number }) => [step.mean, step.ci95])).toEqual([
      [0, 0],
      [0, 0],
    ]);

    expectOneLine(
      await cli(["paired", "a.json", "b-5.json"], cwd),
      /^concord: b-5\.json: cannot be paired with a\.json: b\.perTaskLoss: expected 8 tasks like a, got 5$/,
    );
    expectOneLine(
      await cli(["paired", "a.json", "eval-6.json"], cwd),
      /^concord: eval-6\.json: expected per-task values \(perTaskLoss\): write the record with concord eval/,
    );
    expectOneLine(
      await cli(["paired", "a.json", "missing.json"], cwd),
      /^concord: missing\.json: expected an evaluation record, but it cannot be read \(ENOENT\)$/,
    );
    write("other-seed.json", JSON.stringify({ ...b, evaluationSeed: 7 }));
    expectOneLine(
      await cli(["paired", "a.json", "other-seed.json"], cwd),
      /^concord: other-seed\.json: expected the held-out task set of a\.json \(evaluation seed 20181017\), got seed 7$/,
    );
  });
});

describe("formatEvaluation", () => {
  it("prints accuracy beside the loss when the objective reports it", () => {
    const text = formatEvaluation({
      taskCount: 600,
      backend: "wasm",
      loss: [
        { step: 0, mean: 1.6, ci95: 0.01 },
        { step: 3, mean: 0.1234, ci95: 0.0056 },
      ],
      accuracy: [
        { step: 0, mean: 0.2, ci95: 0.004 },
        { step: 3, mean: 0.97512, ci95: 0.00613 },
      ],
    });
    expect(text).toBe(
      "held-out query loss and accuracy over 600 tasks (wasm), mean ± 95% CI:\n" +
        "    0 steps: 1.6000 ± 0.0100   20.00% ± 0.40%\n" +
        "    3 steps: 0.1234 ± 0.0056   97.51% ± 0.61%\n",
    );
  });
});

describe("concord bin: SIGKILL mid-run, then --resume, ends bit-identical", () => {
  const cwd = mkdtempSync(join(tmpdir(), "concord-kill-"));
  const bin = join(packageDir, "dist", "cli.js");

  beforeAll(() => {
    const build = spawnSync("pnpm", ["exec", "tsc", "-b"], { cwd: packageDir, encoding: "utf8" });
    expect(build.stdout + build.stderr).toBe("");
    writeFileSync(join(cwd, "long.json"), JSON.stringify(tinyConfig({ iterations: 500, checkpointEvery: 40, logEvery: 100 })));
  }, 180_000);

  const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd, encoding: "utf8" });

  it("prints presets from the built bin", () => {
    const result = run(["presets"]);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^sinusoid-ga-paper /m);
  });

  it("evaluates a checkpoint in a fresh process (the backend is chosen before the checkpoint's tensors are made)", () => {
    const trained = run(["train", "long.json", "--iterations", "3", "--out", "short", "--progress", "none"]);
    expect(trained.status).toBe(0);
    const evaluated = run(["eval", "short/checkpoint.ckpt", "--tasks", "5", "--steps", "1"]);
    expect(evaluated.stderr).toBe("");
    expect(evaluated.status).toBe(0);
    expect(evaluated.stdout).toMatch(/iteration 3, evaluated on cpu[\s\S]*over 5 tasks[\s\S]*1 steps: \d/);
  });

  it("resumes a killed run to the same parameters, with one metrics line per iteration and no temp files", async () => {
    const whole = run(["train", "long.json", "--out", "whole", "--progress", "none"]);
    expect(whole.stderr).toBe("");
    expect(whole.status).toBe(0);

    const child = spawn(process.execPath, [bin, "train", "long.json", "--out", "killed", "--progress", "none"], { cwd, stdio: "ignore" });
    const checkpoint = join(cwd, "killed", "checkpoint.ckpt");
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
    while (!existsSync(checkpoint) && child.exitCode === null) await new Promise((r) => setTimeout(r, 5));
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    const interruptedAt = loadCheckpoint(checkpoint);
    disposeCheckpoint(interruptedAt);
    expect(interruptedAt.iteration).toBeLessThan(500);
    expect(existsSync(join(cwd, "killed", "evaluation.json"))).toBe(false);

    // Without a config argument, --resume uses the run's own config.json.
    const resumed = run(["train", "--out", "killed", "--resume", "--progress", "none"]);
    expect(resumed.stderr).toBe("");
    expect(resumed.status).toBe(0);
    expect(paramBytes(checkpoint)).toBe(paramBytes(join(cwd, "whole", "checkpoint.ckpt")));
    expect(readMetrics(join(cwd, "killed", "metrics.jsonl")).map((r) => r.iteration)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(readdirSync(join(cwd, "killed")).sort()).toEqual(["checkpoint.ckpt", "config.json", "evaluation.json", "metrics.jsonl"]);
  }, 120_000);
});
