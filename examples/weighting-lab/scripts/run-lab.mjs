#!/usr/bin/env node
// Runs one preset of the weighting lab: `concord compare` over every scheme × algorithm and seed
// (resumable: run folders under runs/, checkpoints every few hundred iterations), then writes each
// run's record (per-task values at the last inner step, with groups) to results/<preset>/.
//
//   node scripts/run-lab.mjs sinusoid-imbalanced --seeds 5 --iterations 3000 [--jobs 2] [--backend wasm]
//
// The records are what the leaderboard (scripts/write-leaderboard.mjs) and docs/WEIGHTING.md read.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { runRecordOf } from "../dist/index.js";

export const SCHEMES = ["uniform", "agreement", "cosine-agreement", "tail-risk", "loss-softmax", "tr-maml"];
const here = dirname(fileURLToPath(import.meta.url));
const lab = join(here, "..");
const cli = join(lab, "../../packages/cli/dist/cli.js");

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seeds: { type: "string", default: "5" },
    iterations: { type: "string" },
    algorithms: { type: "string", default: "maml,reptile" },
    weighting: { type: "string", default: SCHEMES.join(",") },
    jobs: { type: "string", default: "2" },
    backend: { type: "string" },
    "records-only": { type: "boolean", default: false },
  },
});
const preset = positionals[0];
if (!preset) {
  console.error("usage: run-lab.mjs <preset> [--seeds N] [--iterations N] [--algorithms a,b] [--weighting s,t] [--jobs N] [--backend name] [--records-only]");
  process.exit(2);
}
const out = join(lab, "runs", preset);
const compareArgs = [
  "compare", preset,
  "--weighting", values.weighting,
  "--algorithms", values.algorithms,
  "--seeds", values.seeds,
  "--jobs", values.jobs,
  "--out", out,
  "--progress", "lines",
  ...(values.iterations ? ["--iterations", values.iterations] : []),
  ...(values.backend ? ["--backend", values.backend] : []),
  ...(existsSync(out) ? ["--resume"] : []),
];
if (!values["records-only"]) {
  console.log(`concord ${compareArgs.join(" ")}`);
  const run = spawnSync(process.execPath, [cli, ...compareArgs], { stdio: "inherit" });
  if (run.status !== 0) process.exit(run.status ?? 1);
}

// One record per run, written atomically (temp file, then rename).
const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
const evaluationSeed = results.config?.evaluation?.seed;
let written = 0;
for (const arm of results.arms) {
  for (const seed of arm.seeds) {
    const source = join(out, arm.name, `seed-${seed}`, "evaluation.json");
    const record = runRecordOf(JSON.parse(readFileSync(source, "utf8")), {
      preset,
      algorithm: arm.algorithm,
      weighting: arm.weighting,
      seed,
      evaluationSeed,
    }, source);
    const target = join(lab, "results", preset, arm.name, `seed-${seed}.json`);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(`${target}.tmp`, `${JSON.stringify(record)}\n`);
    renameSync(`${target}.tmp`, target);
    written += 1;
  }
}
writeFileSync(
  join(lab, "results", preset, "command.json"),
  `${JSON.stringify({ command: `node examples/weighting-lab/scripts/run-lab.mjs ${process.argv.slice(2).join(" ")}`, compare: `concord ${compareArgs.filter((a) => a !== "--resume").join(" ").replace(lab + "/", "examples/weighting-lab/")}` }, null, 2)}\n`,
);
console.log(`${written} run records in ${join(lab, "results", preset)}`);
