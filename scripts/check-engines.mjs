#!/usr/bin/env node
// Fails when a locked dependency declares a Node range (`engines.node` in pnpm-lock.yaml) that the
// running Node does not satisfy: `pnpm install` would print an "Unsupported engine" warning for it
// (vega-lite 6.5 declares node >= 22 while Concord promises Node 20). CI runs this on Node 20.
//
//   node scripts/check-engines.mjs [lockfile] [node-version]
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** [major, minor, patch]; missing or wildcard parts are undefined. */
function parseVersion(text) {
  const parts = text.replace(/^v/, "").split(".").slice(0, 3);
  return [0, 1, 2].map((i) => (parts[i] === undefined || /^[x*X]$/.test(parts[i]) ? undefined : Number.parseInt(parts[i], 10)));
}

function compare(a, b) {
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}

/** Lower (inclusive) and upper (exclusive) bounds of ^v, ~v and x-ranges like 6.* or 8. */
function bounds(kind, version) {
  const [major, minor, patch] = version;
  const lower = [major ?? 0, minor ?? 0, patch ?? 0];
  if (major === undefined) return [lower, undefined];
  if (kind === "^") return [lower, major > 0 || minor === undefined ? [major + 1, 0, 0] : [0, minor + 1, 0]];
  if (kind === "~" || (kind === "" && minor !== undefined && patch === undefined)) return [lower, minor === undefined ? [major + 1, 0, 0] : [major, minor + 1, 0]];
  if (kind === "" && minor === undefined) return [lower, [major + 1, 0, 0]];
  return [lower, [major, minor, (patch ?? 0) + 1]];
}

/** Whether `version` satisfies an npm range made of `||` alternatives of space-separated comparators. */
export function satisfies(version, range) {
  const v = parseVersion(version);
  return range.split("||").some((alternative) => {
    const comparators = alternative.trim().replace(/(>=|<=|>|<|=)\s+/g, "$1").split(/\s+/).filter(Boolean);
    return comparators.every((comparator) => {
      const [, op, rest] = /^(>=|<=|>|<|=|\^|~)?(.*)$/.exec(comparator);
      if (rest === "*" || rest === "x" || rest === "") return true;
      const target = parseVersion(rest);
      if (op === ">=") return compare(v, target) >= 0;
      if (op === ">") return compare(v, target) > 0;
      if (op === "<=") return compare(v, target) <= 0;
      if (op === "<") return compare(v, target) < 0;
      const [lower, upper] = bounds(op === "^" || op === "~" ? op : "", target);
      return compare(v, lower) >= 0 && (upper === undefined || compare(v, upper) < 0);
    });
  });
}

/** Every `name@version: … engines: {node: …}` of the lockfile's packages section. */
export function lockedEngines(lockfile) {
  const found = [];
  let current;
  for (const line of lockfile.split("\n")) {
    const entry = /^ {2}'?([^\s':][^:]*?)'?:\s*$/.exec(line);
    if (entry) current = entry[1];
    const engines = /^ {4}engines: \{node: '?([^',}]+)'?/.exec(line);
    if (engines && current) found.push({ name: current, range: engines[1].trim() });
  }
  return found;
}

function selfTest() {
  const cases = [
    ["20.20.2", ">=22", false],
    ["20.20.2", ">=20", true],
    ["20.20.2", "^20.19.0 || ^22.12.0 || >=23", true],
    ["20.18.0", "^20.19.0 || ^22.12.0 || >=23", false],
    ["20.20.2", ">=6 <7 || >=8", true],
    ["20.20.2", "6.* || 8.* || >= 10.*", true],
    ["9.1.0", "6.* || 8.* || >= 10.*", false],
    ["20.20.2", "^10 || ^12 || ^13.7 || ^14 || >=15.0.1", true],
    ["13.8.0", "^10 || ^12 || ^13.7 || ^14 || >=15.0.1", true],
    ["13.6.0", "^10 || ^12 || ^13.7 || ^14 || >=15.0.1", false],
  ];
  for (const [version, range, expected] of cases) {
    if (satisfies(version, range) !== expected) throw new Error(`self-test: satisfies(${version}, ${range}) should be ${expected}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  selfTest();
  const lockPath = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), "..", "pnpm-lock.yaml");
  const node = process.argv[3] ?? process.versions.node;
  const entries = lockedEngines(readFileSync(lockPath, "utf8"));
  const unsupported = entries.filter(({ range }) => !satisfies(node, range));
  if (unsupported.length > 0) {
    console.error(`dependencies that do not support Node ${node} (pnpm install warns "Unsupported engine"):`);
    for (const { name, range } of unsupported) console.error(`  ${name}: node ${range}`);
    process.exitCode = 1;
  } else {
    console.log(`all ${entries.length} locked packages with an engines field support Node ${node}`);
  }
}
