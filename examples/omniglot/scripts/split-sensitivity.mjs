#!/usr/bin/env node
// How much the choice of test characters moves a checkpoint's held-out accuracy: one of the
// candidate causes of the gap to MAML's table (docs/REPRODUCTION.md, "The gaps"). MAML's code tests
// on 100 characters (positions 1100–1199 of its Python shuffle); Concord on the 423 characters its
// own seeded shuffle leaves out of training. This script splits those 423 test characters into
// disjoint subsets of about 100 (consecutive in a seeded shuffle: --subsets of them), evaluates the
// checkpoint on `--tasks` tasks drawn from each subset alone (the checkpoint's own evaluation
// protocol: ways, shots, inner steps, seed), and reports each subset's accuracy ± 95% CI and their
// spread: the spread is what a different 100-character test split can do to the same parameters.
// Usage: node examples/omniglot/scripts/split-sensitivity.mjs <checkpoint> --json out.json
//          [--subsets 4] [--tasks 600] [--seed 7] [--backend wasm]
// (run from the repository after `pnpm build`; ../shared/data/omniglot or the config's dataDir).
import { parseArgs } from "node:util";
import { useBackend } from "@concord/backend";
import { createRng } from "@concord/core";
import {
  checkpointConfig,
  createParts,
  createRegistry,
  disposeCheckpoint,
  evaluateOnHeldOut,
  evaluationFamily,
  evaluationSummary,
  loadCheckpoint,
  writeFileAtomicSync,
} from "@concord/runner";
import { fewShot, selectClasses } from "@concord/tasks";
import { loadOmniglot, resolveOmniglotDir } from "@concord/tasks/node";

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    json: { type: "string" },
    subsets: { type: "string", default: "4" },
    tasks: { type: "string", default: "600" },
    seed: { type: "string", default: "7" },
    backend: { type: "string", default: "wasm" },
  },
});
const [checkpointFile] = positionals;
const subsetCount = Number(options.subsets);
const taskCount = Number(options.tasks);
const shuffleSeed = Number(options.seed);
if (positionals.length !== 1 || !options.json) {
  console.error("usage: node examples/omniglot/scripts/split-sensitivity.mjs <checkpoint> --json out.json [--subsets 4] [--tasks 600] [--seed 7] [--backend wasm]");
  process.exit(2);
}
for (const [name, value, least] of [
  ["--subsets", subsetCount, 2],
  ["--tasks", taskCount, 2],
  ["--seed", shuffleSeed, 0],
]) {
  if (!Number.isInteger(value) || value < least) {
    console.error(`split-sensitivity: ${name} expects an integer ≥ ${least}, got ${JSON.stringify(options[name.slice(2)])}`);
    process.exit(2);
  }
}

await useBackend(options.backend);
const checkpoint = loadCheckpoint(checkpointFile);
try {
  const config = checkpointConfig(checkpoint, checkpointFile);
  const family = evaluationFamily(config);
  const sampling = config.evaluation.sampler?.options ?? {};
  if (family.name !== "omniglot" || sampling.split !== "test") {
    throw new Error(`split-sensitivity: expected a checkpoint evaluated on Omniglot's test split, got ${family.name} ${JSON.stringify(sampling.split)}`);
  }
  const parts = await createParts(config, createRegistry());
  const omniglot = await loadOmniglot(resolveOmniglotDir(sampling.dataDir));
  const test = omniglot.mamlSplit({ rotations: sampling.rotations ?? true }).test;
  // Consecutive runs of a seeded shuffle of the test characters: disjoint subsets of ≈ 423 / subsets.
  const order = createRng(shuffleSeed).shuffle(Array.from({ length: test.classCount }, (_, i) => i));
  const subsets = [];
  for (let s = 0; s < subsetCount; s++) {
    const characters = order.slice(Math.floor((s * order.length) / subsetCount), Math.floor(((s + 1) * order.length) / subsetCount));
    const sampler = fewShot({ dataset: selectClasses(test, characters), ways: sampling.ways, shots: sampling.shots, queryShots: sampling.queryShots ?? sampling.shots });
    const evaluation = evaluateOnHeldOut(checkpoint.params, { ...parts, evaluationSampler: sampler }, config, { taskCount });
    const summary = evaluationSummary(evaluation);
    const last = summary.accuracy.at(-1);
    console.log(`subset ${s + 1}/${subsetCount} (${characters.length} characters): accuracy ${(100 * last.mean).toFixed(2)} ± ${(100 * last.ci95).toFixed(2)} %`);
    subsets.push({ characters: characters.length, characterNames: characters.map((c) => test.className(c)), ...summary });
  }
  const finals = subsets.map((subset) => subset.accuracy.at(-1).mean);
  const record = {
    checkpoint: checkpointFile,
    iteration: checkpoint.iteration,
    evaluatedAt: new Date().toISOString(),
    backend: options.backend,
    evaluationSeed: config.evaluation.seed,
    shuffleSeed,
    tasksPerSubset: taskCount,
    innerSteps: config.evaluation.innerSteps,
    subsets,
    finalAccuracy: { min: Math.min(...finals), max: Math.max(...finals), range: Math.max(...finals) - Math.min(...finals) },
  };
  writeFileAtomicSync(options.json, [`${JSON.stringify(record, null, 2)}\n`]);
  console.log(`accuracy after ${config.evaluation.innerSteps} steps across subsets: ${(100 * record.finalAccuracy.min).toFixed(2)}–${(100 * record.finalAccuracy.max).toFixed(2)} %`);
} finally {
  disposeCheckpoint(checkpoint);
}
