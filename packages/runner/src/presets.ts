import { ConcordError } from "@concord/core";
import { createRegistry } from "./builtins.js";
import { type ExperimentConfig, parseConfig } from "./config.js";
import type { RegisteredPreset, Registry } from "./registry.js";
import { suggest } from "./schema-errors.js";

export type Preset = RegisteredPreset;

/** Every preset the registered task families offer (built-ins by default), in registration order. */
export function listPresets(registry: Registry = createRegistry()): Preset[] {
  return registry.presets();
}

export function presetNames(registry: Registry = createRegistry()): string[] {
  return listPresets(registry).map((preset) => preset.name);
}

/** The validated config of a preset; an unknown name is refused with a suggestion. */
export function presetConfig(name: string, registry: Registry = createRegistry()): ExperimentConfig {
  const presets = listPresets(registry);
  const preset = presets.find((candidate) => candidate.name === name);
  if (!preset) {
    const names = presets.map((candidate) => candidate.name);
    const hint = suggest(name, names);
    throw new ConcordError(
      `expected a config file or one of the presets ${names.join(", ")}, got ${JSON.stringify(name)}${hint ? ` (did you mean "${hint}"?)` : ""}`,
      { field: "preset" },
    );
  }
  // A third-party family's broken preset is reported like a config file: field, expected, got.
  return parseConfig({ ...preset.config, description: preset.description });
}
