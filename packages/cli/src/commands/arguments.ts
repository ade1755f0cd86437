// What the commands share: reading a config (file or preset), overrides, argument parsing, output formats.
import { existsSync } from "node:fs";
import { basename, extname, join } from "node:path";
import type { StepStatistic } from "@concord/algorithms";
import { BACKEND_CHOICES } from "@concord/backend";
import { ConcordError } from "@concord/core";
import { type ExperimentConfig, loadConfigFile, presetConfig, type Registry, withDataDir, withOverrides } from "@concord/runner";
import { Option } from "commander";

/** Where commands write and which folder relative paths start from. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly cwd: string;
}

export const backendOption = () =>
  new Option(
    "--backend <name>",
    "engine: auto (native where @concord/backend-native's addon is built, else wasm, else cpu), cpu, wasm or native (wasm + @concord/backend-native's OpenBLAS kernels, Node)",
  ).choices(BACKEND_CHOICES);
export const progressOption = () =>
  new Option("--progress <mode>", "progress display: auto (bar on a terminal, lines otherwise), bar, lines, none")
    .choices(["auto", "bar", "lines", "none"])
    .default("auto");
export const collect = (value: string, previous: string[]) => [...previous, value];

/** A preset name (from the registry's task families), or a path to a .json/.yaml/.yml file. */
export async function resolveConfig(source: string, cwd: string, registry: Registry): Promise<ExperimentConfig> {
  const extension = extname(source).toLowerCase();
  const path = resolvePath(cwd, source);
  if ([".json", ".yaml", ".yml"].includes(extension) || existsSync(path)) return loadConfigFile(path);
  return presetConfig(source, registry);
}

export function applyOverrides(
  config: ExperimentConfig,
  options: { iterations?: string; seed?: string; backend?: string; data?: string },
  cwd: string,
): ExperimentConfig {
  const withData = options.data ? withDataDir(config, resolvePath(cwd, options.data)) : config;
  return withOverrides(withData, {
    ...(options.iterations !== undefined ? { iterations: integerArgument(options.iterations, "--iterations", 0) } : {}),
    ...(options.seed !== undefined ? { seed: integerArgument(options.seed, "--seed") } : {}),
    ...(options.backend !== undefined ? { backend: options.backend } : {}),
  });
}

export function integerArgument(text: string, field: string, min = Number.NEGATIVE_INFINITY): number {
  const value = /^[+-]?\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ConcordError(`expected an integer${min > Number.NEGATIVE_INFINITY ? ` >= ${min}` : ""}, got ${quoted(text)}`, { field });
  }
  return value;
}

export function listArgument(text: string, field: string): string[] {
  const items = text.split(",").map((item) => item.trim());
  if (items.length === 0 || items.some((item) => item.length === 0)) {
    throw new ConcordError(`expected comma-separated names, got ${quoted(text)}`, { field });
  }
  return items;
}

/** An argument as error messages show it: JSON, cut to 60 characters. */
function quoted(text: string): string {
  const json = JSON.stringify(text);
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

/** `--out`, or runs/<name>-<timestamp>. */
export function resolveOut(out: string | undefined, source: string, cwd: string): string {
  if (out) return resolvePath(cwd, out);
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").replace("T", "-");
  return resolvePath(cwd, join("runs", `${sourceName(source)}-${stamp}`));
}

export function sourceName(source: string): string {
  return basename(source, extname(source));
}

export function resolvePath(cwd: string, path: string): string {
  return path.startsWith("/") ? path : join(cwd, path);
}

export function formatEvaluation(evaluation: { taskCount: number; loss: StepStatistic[]; accuracy?: StepStatistic[]; backend: string }): string {
  const { accuracy } = evaluation;
  const what = accuracy ? "query loss and accuracy" : "query loss";
  const lines = [`held-out ${what} over ${evaluation.taskCount} tasks (${evaluation.backend}), mean ± 95% CI:`];
  evaluation.loss.forEach(({ step, mean, ci95 }, index) => {
    const loss = `${mean.toFixed(4)} ± ${ci95.toFixed(4)}`;
    const correct = accuracy?.[index];
    lines.push(`  ${String(step).padStart(3)} steps: ${loss}${correct ? `   ${(100 * correct.mean).toFixed(2)}% ± ${(100 * correct.ci95).toFixed(2)}%` : ""}`);
  });
  return `${lines.join("\n")}\n`;
}
