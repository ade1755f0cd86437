import { createRegistry, listPresets, loadPlugins } from "@concord/runner";
import type { Command } from "commander";
import { type CliIo, collect } from "./arguments.js";

/** `concord presets`: every preset the registered task families offer (built-ins and --plugin ones). */
export function addPresetsCommand(program: Command, io: CliIo): void {
  program
    .command("presets")
    .description("list the presets of the registered task families")
    .option("--plugin <file>", "ES module registering plug-ins (repeatable)", collect, [])
    .action(async (options: { plugin: string[] }) => {
      const registry = createRegistry();
      await loadPlugins(registry, options.plugin, io.cwd);
      const presets = listPresets(registry);
      const width = Math.max(...presets.map((preset) => preset.name.length));
      for (const preset of presets) io.stdout(`${preset.name.padEnd(width)}  ${preset.description}\n`);
    });
}
