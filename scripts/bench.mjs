// `pnpm bench [-- options]`: times Concord's meta-iterations (each workload in a fresh process) and,
// when Debian's python3 can import torch, the PyTorch reference scripts on the same workloads in the
// same run, then prints a table with Concord/PyTorch ratios and writes bench-results.json.
//
// Options:
//   --only a,b           workload name prefixes: sinusoid, omniglot, sinusoid-maml2, ... (default: all)
//   --backends a,b       cpu,wasm,native (default: cpu,wasm; CNN rows on cpu only with --cnn-cpu);
//                        native = wasm with @concord/backend-native's OpenBLAS kernels (useBackend("native"))
//   --execution a,b      batched,per-task,parallel,parallel-batched (default: all that apply; parallel = per-task on
//                        worker threads, one per core; sinusoid rows are batched and per-task)
//   --iterations N       measured iterations (default 50 sinusoid, 3 omniglot)
//   --warmup N           warm-up iterations (default 30 sinusoid, 1 omniglot)
//   --threads N          PyTorch threads (default 2)
//   --no-torch           skip the PyTorch side
//   --cnn-cpu            also time the CNN on the cpu backend (minutes per iteration)
//   --memory N           memory mode: N sinusoid second-order iterations, numTensors and RSS sampled
//   --ablation           what each of Concord's kernel replacements and engine patches buys: the selected
//                        workloads (default sinusoid-maml2 batched, omniglot-maml1 per-task) with all
//                        of them, with none, and with each one left out
//   --without a,b        leave these kernel replacements or engine patches out (names as in --ablation's output)
//   --scaling            how cost grows: first-order Omniglot at meta-batch 8, 32, 128 and 5 and 20
//                        ways (omniglot-maml1, -mb8, -mb128, -20way), default backends wasm,native and
//                        execution parallel, PyTorch with the same --meta-batch / --way; prints ms per
//                        iteration and per task against the meta-batch 32, 5-way row. The scaling rows
//                        run only with --scaling or when --only names them in full.
//   --rounds N           repeat the whole measurement N times (Concord's rows, PyTorch's, the GEMM peaks,
//                        in turn) and report each row's median over the rounds, with the ratio and the
//                        distance to the floor taken within each round (paired) and their range: on a
//                        machine whose cores drift from minute to minute one run is one sample (default 1)
//   --out FILE           JSON output (default bench/results.json; memory mode bench/memory.json)
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { arch, cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { metaIterationFlops } from "./bench-flops.mjs";
import { OMNIGLOT_SCALING, omniglotSettings } from "./bench-workloads.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const args = parseArgs(process.argv.slice(2));
const PYTHON = "/usr/bin/python3";

/** Every Concord workload and its PyTorch counterpart (script, variant) per execution. */
const WORKLOADS = [
  { name: "sinusoid-maml2", executions: ["batched", "per-task"], title: "sinusoid MAML 2nd order", torch: { script: "maml_sine_torch.py", batched: "so_batched", "per-task": "so_loop" } },
  { name: "sinusoid-maml1", executions: ["batched", "per-task"], title: "sinusoid MAML 1st order", torch: { script: "maml_sine_torch.py", batched: "fo_batched", "per-task": "fo_loop" } },
  { name: "sinusoid-reptile5", executions: ["batched", "per-task"], title: "sinusoid Reptile (5 steps)", torch: { script: "maml_sine_torch.py", batched: "reptile_batched", "per-task": "reptile_loop" } },
  // "batched" = convNet.forwardBatched, the whole meta-batch in one stream (im2col + batched matMuls);
  // the PyTorch reference runs its CNN task by task, so all three rows compare with its loop.
  // "parallel" = per-task on worker threads, one per core (PyTorch's per-task loop uses 2 threads too);
  // "parallel-batched" = the batched chunks (batchedChunkSize tasks each) shared out to those threads.
  { name: "omniglot-maml1", title: "Omniglot 5-way 1-shot CNN, 1st order", executions: ["batched", "per-task", "parallel", "parallel-batched"], torch: { script: "maml_omniglot_cnn_torch.py", batched: "fo", "per-task": "fo", parallel: "fo", "parallel-batched": "fo" } },
  { name: "omniglot-maml2", title: "Omniglot 5-way 1-shot CNN, 2nd order", executions: ["batched", "per-task", "parallel", "parallel-batched"], torch: { script: "maml_omniglot_cnn_torch.py", batched: "so", "per-task": "so", parallel: "so", "parallel-batched": "so" } },
  // How cost grows (--scaling): the reference script takes the meta-batch and ways as arguments.
  ...OMNIGLOT_SCALING.map(({ suffix, metaBatch, ways }) => ({
    name: `omniglot-maml1${suffix}`,
    title: `Omniglot ${ways}-way 1-shot CNN, 1st order, meta-batch ${metaBatch}`,
    executions: ["per-task", "parallel"],
    scaling: true,
    torch: { script: "maml_omniglot_cnn_torch.py", args: ["--meta-batch", String(metaBatch), "--way", String(ways)], "per-task": "fo", parallel: "fo" },
  })),
];
/** The performance issue's targets: Concord/PyTorch at most this ratio, every row in one run. */
const TARGETS = [
  { workload: "sinusoid-maml2", execution: "batched", maxRatio: 1.0 },
  { workload: "sinusoid-reptile5", execution: "batched", maxRatio: 1.0 },
  { workload: "sinusoid-maml2", execution: "per-task", maxRatio: 1.0 },
  { workload: "sinusoid-reptile5", execution: "per-task", maxRatio: 1.0 },
  { workload: "omniglot-maml1", execution: "parallel", maxRatio: 1.0 },
  { workload: "omniglot-maml2", execution: "parallel", maxRatio: 1.0 },
];

const selected = WORKLOADS.filter((w) =>
  args.scaling
    ? w.name === "omniglot-maml1" || w.scaling
    : w.scaling
      ? args.only?.includes(w.name)
      : !args.only || args.only.some((prefix) => w.name.startsWith(prefix)),
);
const backends = args.backends ?? (args.scaling ? ["wasm", "native"] : ["cpu", "wasm"]);
const executions = args.execution ?? (args.scaling ? ["parallel"] : ["batched", "per-task", "parallel", "parallel-batched"]);
const machine = describeMachine();
console.log(`machine: ${machine.cpu} (${machine.vectorUnits.join(", ") || "no AVX2"}), ${machine.cores} cores, node ${process.version}, load average ${machine.loadAverageAtStart.join(" ")}`);
if (machine.loadAverageAtStart[0] > machine.cores * 0.5) {
  console.log("warning: the machine is busy; wall-clock figures (and PyTorch's, whose threads spin) are inflated. 'CPU ms' is the process's CPU time.");
}

if (args.memory) {
  runMemoryMode(args.memory);
  process.exit(0);
}
if (args.ablation) {
  await runAblation();
  process.exit(0);
}

/** One round: every selected Concord row, then PyTorch on the same workloads, then the GEMM peaks. */
function measureRound() {
  const rows = [];
  for (const workload of selected) {
    const isCnn = workload.name.startsWith("omniglot");
    for (const backend of backends) {
      if (isCnn && backend === "cpu" && !args.cnnCpu) {
        console.log(`skip ${workload.name} on cpu: minutes per iteration on the pure-JS backend (--cnn-cpu to run it)`);
        continue;
      }
      for (const execution of workload.executions ?? executions) {
        if (!executions.includes(execution)) continue;
        const iterations = args.iterations ?? (isCnn ? 3 : 50);
        const warmup = args.warmup ?? (isCnn ? 1 : 30);
        process.stdout.write(`${workload.name} ${backend} ${execution}: `);
        const result = runWorker({ workload: workload.name, backend, execution, iterations, warmup, without: args.without ?? [] });
        console.log(result.error ? `failed: ${result.error}` : `${fmt(result.medianMs)} ms`);
        rows.push({ ...result, title: workload.title });
      }
    }
  }

  const torch = args.noTorch ? { skipped: "--no-torch" } : runTorch(selected);
  for (const row of rows) {
    const workload = WORKLOADS.find((w) => w.name === row.workload);
    const variant = workload.torch[row.execution];
    const reference = torch.results?.[`${torchRunKey(workload.torch)}:${variant}`];
    if (reference && row.medianMs !== undefined) {
      row.torch = { variant, ...reference };
      row.ratio = row.medianMs / reference.medianMs;
    }
  }

  const gemm = measureGemmPeak();
  for (const row of rows) addFloor(row, gemm);
  return { rows, torch, gemm };
}

const roundCount = args.rounds ?? 1;
if (!(Number.isInteger(roundCount) && roundCount >= 1)) throw new Error(`--rounds: expected a whole number ≥ 1, got ${args.rounds}`);
const rounds = [];
for (let round = 1; round <= roundCount; round++) {
  if (roundCount > 1) console.log(`\nround ${round} of ${roundCount}`);
  rounds.push(measureRound());
}
const { rows, torch, gemm } = roundCount === 1 ? rounds[0] : combineRounds(rounds);
printTable(rows, torch, gemm);
if (roundCount > 1) printRoundSpread(rows);
if (args.scaling) printScaling(rows);
const output = {
  date: new Date().toISOString(),
  machine,
  command: `pnpm bench ${process.argv.slice(2).join(" ")}`.trim(),
  torch: { version: torch.version, threads: args.threads ?? 2, skipped: torch.skipped },
  gemm,
  ...(roundCount > 1 ? { rounds: roundCount } : {}),
  verdict: machine.quiet ? "given" : `withheld: load average ${machine.loadAverageAtStart[0]} at start > ${machine.cores} cores`,
  rows,
};
mkdirSync(`${root}bench`, { recursive: true });
writeFileSync(args.out ?? `${root}bench/results.json`, `${JSON.stringify(output, null, 2)}\n`);
console.log(`\nwrote ${args.out ?? "bench/results.json"}`);

/** GEMM GFLOP/s of tfjs-wasm (one thread) and of PyTorch (the bench's threads), measured in this run. */
function measureGemmPeak() {
  const child = spawnSync(process.execPath, [`${root}scripts/bench-gemm.mjs`, String(args.threads ?? 2)], { cwd: root, encoding: "utf8" });
  const line = child.stdout.split("\n").find((l) => l.startsWith("GEMM_RESULT "));
  if (!line) {
    console.log(`GEMM peak not measured: ${(child.stderr || `exit ${child.status}`).trim().split("\n").at(-1)}`);
    return {};
  }
  const gemm = JSON.parse(line.slice("GEMM_RESULT ".length));
  console.log(`\nGEMM peak (float32, n ≤ 1024): tfjs-wasm ${gemm.wasmGflops.toFixed(1)} GFLOP/s (one thread)${gemm.nativeGflops ? `, native ${gemm.nativeGflops.toFixed(1)} GFLOP/s (${gemm.nativeGflopsOneThread.toFixed(1)} on one thread)` : ""}${gemm.torchGflops ? `, PyTorch ${gemm.torchGflops.toFixed(1)} GFLOP/s (${gemm.torchThreads} threads)` : ""}`);
  return gemm;
}

/**
 * A row's arithmetic (scripts/bench-flops.mjs) and the time it takes at the measured peaks: `floorMs`
 * at the machine's best GEMM rate (PyTorch's when measured), `wasmFloorMs` at tfjs-wasm's rate on the
 * threads the row uses (one, or one per core for "parallel" and "parallel-batched"); `engineFloorMs` at the row's own engine's
 * rate: tfjs-wasm's for wasm rows, the native addon's for native rows (every core for one call in
 * per-task/batched rows; one thread per core for the parallel ones).
 */
function addFloor(row, gemm) {
  if (row.error) return;
  row.gflop = metaIterationFlops(row.workload) / 1e9;
  const machinePeak = gemm.torchGflops ?? gemm.wasmGflops;
  if (machinePeak) row.floorMs = (row.gflop / machinePeak) * 1000;
  const onEveryCore = row.execution === "parallel" || row.execution === "parallel-batched";
  if (gemm.wasmGflops && row.backend === "wasm") row.wasmFloorMs = (row.gflop / (gemm.wasmGflops * (onEveryCore ? machine.cores : 1))) * 1000;
  if (row.backend === "wasm") row.engineFloorMs = row.wasmFloorMs;
  const nativePeak = onEveryCore ? gemm.nativeGflopsOneThread * machine.cores : gemm.nativeGflops;
  if (row.backend === "native" && nativePeak) row.engineFloorMs = (row.gflop / nativePeak) * 1000;
}

/** The middle value (the mean of the two middle ones for an even count). */
function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Rounds → one table: each row's median over the rounds of its median ms, PyTorch's ms and its
 * floor; its ratio and its distance to the floor as the median of the per-round values (each round
 * compares Concord and PyTorch measured minutes apart, not a whole run apart), with their ranges and
 * every round's figures kept in `perRound`.
 */
function combineRounds(rounds) {
  const key = (row) => `${row.workload}|${row.backend}|${row.execution}`;
  const rows = rounds[0].rows.map((first) => {
    const samples = rounds.map((round) => round.rows.find((row) => key(row) === key(first))).filter((row) => row && !row.error);
    if (samples.length === 0) return first;
    const pick = (get) => samples.map(get).filter((value) => value !== undefined);
    const ratios = pick((row) => row.ratio);
    const toFloor = pick((row) => (row.floorMs ? row.medianMs / row.floorMs : undefined));
    return {
      ...samples[0],
      medianMs: median(pick((row) => row.medianMs)),
      medianCpuMs: median(pick((row) => row.medianCpuMs)),
      minMs: Math.min(...pick((row) => row.minMs)),
      maxMs: Math.max(...pick((row) => row.maxMs)),
      ...(ratios.length ? { ratio: median(ratios), ratioRange: [Math.min(...ratios), Math.max(...ratios)] } : {}),
      ...(samples[0].torch ? { torch: { ...samples[0].torch, medianMs: median(pick((row) => row.torch?.medianMs)) } } : {}),
      ...(toFloor.length ? { floorMs: median(pick((row) => row.floorMs)), timesFloor: median(toFloor), timesFloorRange: [Math.min(...toFloor), Math.max(...toFloor)] } : {}),
      // The engine floors too are medians over the rounds (not the first round's).
      ...Object.fromEntries(
        ["wasmFloorMs", "engineFloorMs"].filter((name) => pick((row) => row[name]).length > 0).map((name) => [name, median(pick((row) => row[name]))]),
      ),
      perRound: samples.map((row) => ({ medianMs: row.medianMs, torchMs: row.torch?.medianMs, ratio: row.ratio, floorMs: row.floorMs, engineFloorMs: row.engineFloorMs })),
    };
  });
  const gemms = rounds.map((round) => round.gemm);
  const gemmMedian = (name) => {
    const values = gemms.map((gemm) => gemm[name]).filter((value) => value !== undefined);
    return values.length ? median(values) : undefined;
  };
  const gemm = { ...gemms[0], ...Object.fromEntries(["wasmGflops", "nativeGflops", "nativeGflopsOneThread", "torchGflops"].map((name) => [name, gemmMedian(name)]).filter(([, value]) => value !== undefined)), perRound: gemms };
  return { rows, torch: rounds[0].torch, gemm };
}

/** How far the rounds spread: the range of each row's ratio and distance to the floor. */
function printRoundSpread(rows) {
  console.log(`\nover ${roundCount} rounds (median, range):`);
  for (const row of rows.filter((r) => r.ratioRange || r.timesFloorRange)) {
    const ratio = row.ratioRange ? `ratio ${row.ratio.toFixed(2)}× (${row.ratioRange.map((x) => x.toFixed(2)).join("–")})` : "";
    const floor = row.timesFloorRange ? `${row.timesFloor.toFixed(2)}× floor (${row.timesFloorRange.map((x) => x.toFixed(2)).join("–")})` : "";
    console.log(`  ${row.workload} ${row.backend} ${row.execution}: ${[ratio, floor].filter(Boolean).join(", ")}`);
  }
}

function runWorker(config) {
  const child = spawnSync(process.execPath, [`${root}scripts/bench-worker.mjs`, JSON.stringify(config)], {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = child.stdout.split("\n").find((l) => l.startsWith("BENCH_RESULT "));
  if (!line) {
    const error = (child.stderr || child.stdout).split("\n").filter((l) => /Error|error/.test(l))[0] ?? `exit ${child.status}`;
    return { ...config, error: error.trim() };
  }
  return JSON.parse(line.slice("BENCH_RESULT ".length));
}

/** One run of a reference script: its name and extra arguments (a scaling row's --meta-batch, --way). */
function torchRunKey(spec) {
  return [spec.script, ...(spec.args ?? [])].join(" ");
}

/**
 * "How cost grows": each engine's ms per iteration and per task at every (meta-batch, ways) row,
 * and its growth against the meta-batch 32, 5-way row of the same engine and execution.
 */
function printScaling(rows) {
  const engines = [...new Set(rows.filter((r) => !r.error).map((r) => `${r.backend} ${r.execution}`))];
  const torchRows = new Map();
  for (const r of rows) if (r.torch) torchRows.set(`torch ${r.workload}`, r.torch.medianMs);
  console.log("\nhow cost grows (first-order Omniglot, 1-shot, 1 query per class; ms per iteration, ms per task, × the meta-batch 32, 5-way row):");
  console.log("| meta-batch | ways | engine | ms / iteration | ms / task | × base |");
  console.log("| ---: | ---: | --- | ---: | ---: | ---: |");
  const names = ["omniglot-maml1", ...OMNIGLOT_SCALING.map((s) => `omniglot-maml1${s.suffix}`)];
  for (const name of names) {
    const { metaBatch, ways } = omniglotSettings(name);
    for (const engine of engines) {
      const row = rows.find((r) => r.workload === name && `${r.backend} ${r.execution}` === engine && !r.error);
      const base = rows.find((r) => r.workload === "omniglot-maml1" && `${r.backend} ${r.execution}` === engine && !r.error);
      if (!row) continue;
      console.log(`| ${metaBatch} | ${ways} | Concord ${engine} | ${fmt(row.medianMs)} | ${fmt(row.medianMs / metaBatch)} | ${base ? (row.medianMs / base.medianMs).toFixed(2) : "–"} |`);
    }
    const torchMs = torchRows.get(`torch ${name}`);
    const torchBase = torchRows.get("torch omniglot-maml1");
    if (torchMs !== undefined) console.log(`| ${metaBatch} | ${ways} | PyTorch ${args.threads ?? 2} threads | ${fmt(torchMs)} | ${fmt(torchMs / metaBatch)} | ${torchBase ? (torchMs / torchBase).toFixed(2) : "–"} |`);
  }
}

/** Runs each reference script once per argument set with the variants needed; parses its "median … (min … - max …)" lines. */
function runTorch(workloads) {
  const probe = spawnSync(PYTHON, ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8" });
  if (probe.status !== 0) {
    const reason = `PyTorch not available (${PYTHON} -c "import torch" failed): side-by-side ratios skipped`;
    console.log(`\n${reason}`);
    return { skipped: reason };
  }
  const version = probe.stdout.trim();
  const referenceDir = fileURLToPath(new URL("../../shared/bench/reference/", import.meta.url));
  if (!existsSync(referenceDir)) {
    const reason = `PyTorch reference scripts not found in ${referenceDir}: side-by-side ratios skipped`;
    console.log(`\n${reason}`);
    return { skipped: reason };
  }
  const threads = String(args.threads ?? 2);
  const runs = new Map();
  for (const workload of workloads) {
    for (const execution of workload.executions ?? executions) {
      if (!executions.includes(execution) || !workload.torch[execution]) continue;
      const key = torchRunKey(workload.torch);
      if (!runs.has(key)) runs.set(key, { script: workload.torch.script, extra: workload.torch.args ?? [], variants: new Set() });
      runs.get(key).variants.add(workload.torch[execution]);
    }
  }
  const results = {};
  for (const [key, { script, extra, variants }] of runs) {
    const isCnn = script.includes("omniglot");
    const iters = String(args.iterations ?? (isCnn ? 3 : 50));
    const warm = String(args.warmup ?? (isCnn ? 1 : 30));
    const path = `${referenceDir}${script}`;
    console.log(`\nPyTorch ${version}: ${[script, ...extra, "--variants", [...variants].join(","), "--threads", threads].join(" ")}`);
    const child = spawnSync(PYTHON, [path, ...extra, "--iters", iters, "--warmup", warm, "--threads", threads, "--variants", [...variants].join(",")], {
      encoding: "utf8",
    });
    process.stdout.write(child.stdout);
    if (child.status !== 0) console.log(`  failed: ${child.stderr.split("\n").slice(-3).join(" ")}`);
    for (const line of child.stdout.split("\n")) {
      const match = /^(\w+)\s+median\s+([\d.]+) ms\s+\(min ([\d.]+) - max ([\d.]+)\)/.exec(line.trim());
      if (match) results[`${key}:${match[1]}`] = { medianMs: Number(match[2]), minMs: Number(match[3]), maxMs: Number(match[4]) };
    }
  }
  return { version, results };
}

async function runAblation() {
  // Kernel replacements and engine patches alike, in installation order.
  const { INSTALL_ORDER } = await import(new URL("../packages/backend/dist/index.js", import.meta.url).href);
  const names = [...INSTALL_ORDER];
  const cases = args.only
    ? selected.map((w) => ({ workload: w.name, execution: w.name.startsWith("omniglot") ? "per-task" : "batched" }))
    : [
        { workload: "sinusoid-maml2", execution: "batched" },
        { workload: "omniglot-maml1", execution: "per-task" },
      ];
  const results = [];
  console.log("| workload | kernels left out | median ms | CPU ms | kernels/iter |");
  console.log("| --- | --- | ---: | ---: | ---: |");
  for (const { workload, execution } of cases) {
    const isCnn = workload.startsWith("omniglot");
    const variants = [[], names, ...names.map((name) => [name])];
    for (const without of variants) {
      const result = runWorker({
        workload,
        backend: "wasm",
        execution,
        iterations: args.iterations ?? (isCnn ? 3 : 30),
        warmup: args.warmup ?? (isCnn ? 1 : 10),
        without,
      });
      results.push(result);
      const label = without.length === 0 ? "none (all installed)" : without.length === names.length ? "all (plain tfjs-wasm)" : without.join(",");
      console.log(`| ${workload} ${execution} | ${label} | ${result.error ? `failed: ${result.error}` : fmt(result.medianMs)} | ${fmt(result.medianCpuMs)} | ${result.kernelsPerIteration ?? "–"} |`);
    }
  }
  mkdirSync(`${root}bench`, { recursive: true });
  writeFileSync(args.out ?? `${root}bench/ablation.json`, `${JSON.stringify({ machine, results }, null, 2)}\n`);
}

function runMemoryMode(iterations) {
  const backend = backends.includes("wasm") ? "wasm" : backends[0];
  console.log(`memory mode: ${iterations} iterations of sinusoid-maml2 batched on ${backend}`);
  const result = runWorker({ workload: "sinusoid-maml2", backend, execution: "batched", iterations: 0, warmup: 0, memoryIterations: iterations });
  if (result.error) {
    console.log(`failed: ${result.error}`);
    process.exitCode = 1;
    return;
  }
  console.log("iteration  numTensors  tfjs bytes   RSS MB");
  for (const s of result.memory) console.log(`${String(s.iteration).padStart(9)}  ${String(s.numTensors).padStart(10)}  ${String(s.numBytes).padStart(10)}  ${(s.rssBytes / 2 ** 20).toFixed(1).padStart(7)}`);
  const first = result.memory[0];
  const last = result.memory[result.memory.length - 1];
  console.log(`numTensors ${first.numTensors} → ${last.numTensors}; RSS ${(first.rssBytes / 2 ** 20).toFixed(1)} → ${(last.rssBytes / 2 ** 20).toFixed(1)} MB (from iteration ${first.iteration} to ${last.iteration})`);
  mkdirSync(`${root}bench`, { recursive: true });
  writeFileSync(args.out ?? `${root}bench/memory.json`, `${JSON.stringify({ machine, ...result }, null, 2)}\n`);
}

function printTable(rows, torch, gemm) {
  console.log("\n| workload | backend | execution | median ms | min–max ms | CPU ms | kernels/iter | peak RSS MB | tfjs peak MB | wasm heap MB | PyTorch ms | ratio | GFLOP | floor ms | engine floor ms |");
  console.log("| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) {
    if (r.error) {
      console.log(`| ${r.workload} | ${r.backend} | ${r.execution} | failed: ${r.error} |||||||`);
      continue;
    }
    const mb = (bytes) => (bytes == null ? "–" : (bytes / 2 ** 20).toFixed(0));
    console.log(
      `| ${r.workload} | ${r.backend} | ${r.execution} | ${fmt(r.medianMs)} | ${fmt(r.minMs)}–${fmt(r.maxMs)} | ${fmt(r.medianCpuMs)} | ${r.kernelsPerIteration} | ${mb(r.peakRssBytes)} | ${mb(r.tfjsPeakBytes)} | ${mb(r.wasmHeapBytes)} | ${r.torch ? fmt(r.torch.medianMs) : "–"} | ${r.ratio ? `${r.ratio.toFixed(2)}×` : "–"} | ${r.gflop?.toPrecision(3) ?? "–"} | ${fmt(r.floorMs)} | ${fmt(r.engineFloorMs)} |`,
    );
  }
  if (gemm.wasmGflops) {
    console.log(`\nfloor ms: the row's GFLOP at ${gemm.torchGflops ? `PyTorch's measured GEMM peak (${gemm.torchGflops.toFixed(1)} GFLOP/s)` : `tfjs-wasm's GEMM peak (${gemm.wasmGflops.toFixed(1)} GFLOP/s)`}; engine floor ms: at the row's engine's peak: tfjs-wasm ${gemm.wasmGflops.toFixed(1)} GFLOP/s per thread${gemm.nativeGflops ? `, native ${gemm.nativeGflops.toFixed(1)} GFLOP/s (one call on every core), ${gemm.nativeGflopsOneThread.toFixed(1)} per thread` : ""}`);
  }
  if (torch.skipped) {
    console.log(`\nratios: ${torch.skipped}`);
    return;
  }
  if (!machine.quiet) {
    console.log(`\nno verdict: the load average at start (${machine.loadAverageAtStart[0]}) is above the ${machine.cores} cores, so the ratios above are not judged (run again on a quiet machine)`);
    return;
  }
  console.log("\ntargets (Concord/PyTorch, same run):");
  for (const target of TARGETS) {
    const matching = rows.filter((r) => r.workload === target.workload && r.execution === target.execution && r.ratio);
    if (matching.length === 0) console.log(`  ${target.workload} ${target.execution}: not measured in this run`);
    for (const r of matching) {
      const verdict = r.ratio <= target.maxRatio ? "met" : "NOT met";
      console.log(`  ${r.workload} ${r.execution} [${r.backend}]: ${fmt(r.medianMs)} ms vs PyTorch ${fmt(r.torch.medianMs)} ms = ${r.ratio.toFixed(2)}× (target ≤ ${target.maxRatio}×) ${verdict}`);
    }
  }
}

function describeMachine() {
  const lscpu = spawnSync("lscpu", [], { encoding: "utf8" });
  const model = /Model name:\s*(.+)/.exec(lscpu.stdout ?? "")?.[1]?.trim() ?? cpus()[0]?.model ?? "unknown";
  const nproc = spawnSync("nproc", [], { encoding: "utf8" }).stdout?.trim();
  const cores = Number(nproc) || cpus().length;
  const loadAverageAtStart = loadavg().map((v) => Number(v.toFixed(2)));
  // The vector units the GEMMs can use: "AMD EPYC" names Zen 3 (AVX2) and Zen 4 (AVX-512) machines alike.
  const flags = /^Flags:\s*(.+)$/m.exec(lscpu.stdout ?? "")?.[1]?.split(/\s+/) ?? [];
  const vectorUnits = ["avx2", "fma", "avx512f"].filter((flag) => flags.includes(flag));
  // Verdicts only from a machine whose 1-minute load at start is within its core count.
  return { cpu: model, vectorUnits, cores, arch: arch(), node: process.version, loadAverageAtStart, quiet: loadAverageAtStart[0] <= cores };
}

function fmt(ms) {
  if (ms === undefined) return "–";
  return ms >= 100 ? ms.toFixed(0) : ms.toFixed(2);
}

function parseArgs(argv) {
  const out = {};
  const list = (value) => value.split(",").map((s) => s.trim()).filter(Boolean);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === "--") continue;
    else if (arg === "--only") out.only = list(value());
    else if (arg === "--backends") out.backends = list(value());
    else if (arg === "--execution") out.execution = list(value());
    else if (arg === "--iterations") out.iterations = Number(value());
    else if (arg === "--warmup") out.warmup = Number(value());
    else if (arg === "--threads") out.threads = Number(value());
    else if (arg === "--memory") out.memory = Number(value());
    else if (arg === "--out") out.out = value();
    else if (arg === "--no-torch") out.noTorch = true;
    else if (arg === "--cnn-cpu") out.cnnCpu = true;
    else if (arg === "--ablation") out.ablation = true;
    else if (arg === "--without") out.without = list(value());
    else if (arg === "--scaling") out.scaling = true;
    else if (arg === "--rounds") out.rounds = Number(value());
    else throw new Error(`unknown option ${arg} (see the header of scripts/bench.mjs)`);
  }
  return out;
}
