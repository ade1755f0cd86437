// Gradients must register when @concord/backend's setup call runs in plain Node on its build, not
// only under vitest (which resolves our sources), and not before. Builds the package, then runs the
// smoke script.
import { execFileSync, spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const packageDir = fileURLToPath(new URL("../../", import.meta.url));

it("plain `node` calling useBackend() from the built @concord/backend gets correct first- and second-order gradients", () => {
  execFileSync(process.execPath, [createRequire(import.meta.url).resolve("typescript/bin/tsc"), "-b"], { cwd: packageDir, stdio: "pipe" });
  const run = spawnSync(process.execPath, ["scripts/plain-node-check.mjs"], { cwd: packageDir, encoding: "utf8" });
  expect(run.status, run.stderr).toBe(0);
  const report = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}") as {
    registeredBeforeConcord: boolean;
    registeredOnImport: boolean;
    registered: boolean;
    first: number[];
    second: number[];
    ok: boolean;
  };
  expect(report.registeredBeforeConcord).toBe(false);
  expect(report.registeredOnImport).toBe(false);
  expect(report.registered).toBe(true);
  // Independent float64 values of f'(x) and f''(x) for f(x) = Σ tanh(x)², x = [0.3, −0.7, 1.2].
  const x = [0.3, -0.7, 1.2];
  const t = x.map(Math.tanh);
  t.forEach((ti, i) => {
    expect(report.first[i]).toBeCloseTo(2 * ti * (1 - ti * ti), 5);
    expect(report.second[i]).toBeCloseTo(2 * (1 - ti * ti) * (1 - 3 * ti * ti), 5);
  });
  expect(report.ok).toBe(true);
});
