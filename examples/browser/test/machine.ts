/**
 * What the browser tests' figures were measured on: written beside the figures, because a time on a
 * shared 2-core machine means little without the date, the processor, the browser and the load.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { findChromium } from "./chromium.js";

export interface Machine {
  readonly measuredAt: string;
  readonly cpu: string;
  readonly cores: number;
  readonly chromium: string;
  /** 1, 5 and 15-minute load averages when the test file started. */
  readonly loadAverageAtStart: number[];
}

/** The machine and browser now; the test adds its load average at the end to the record. */
export function describeMachine(): Machine {
  return { measuredAt: new Date().toISOString(), cpu: cpuModel(), cores: cpus().length, chromium: chromiumVersion(), loadAverageAtStart: loadavg() };
}

export function cpuModel(): string {
  try {
    return /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
}

function chromiumVersion(): string {
  const executable = findChromium();
  if (!executable) return "none";
  try {
    return execFileSync(executable, ["--version"], { encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}
