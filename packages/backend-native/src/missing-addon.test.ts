// Where the addon was not built (no compiler or OpenBLAS at install time), loading it is a
// ConcordError that says what to install. A copy of the loader in a folder without build/ stands in
// for such an installation.
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ConcordError } from "@concord/core";
import { afterAll, expect, it } from "vitest";

const folder = fileURLToPath(new URL("../.missing-addon-test/", import.meta.url));

afterAll(() => {
  rmSync(folder, { recursive: true, force: true });
});

it("a missing addon is a ConcordError naming apt-get install -y g++ libopenblas-dev", async () => {
  mkdirSync(`${folder}src`, { recursive: true });
  cpSync(fileURLToPath(new URL("./load.ts", import.meta.url)), `${folder}src/load.ts`);
  const copy = (await import(/* @vite-ignore */ `${folder}src/load.ts`)) as typeof import("./load.js");
  const attempt = () => copy.loadNativeKernels();
  expect(attempt).toThrow(ConcordError);
  expect(attempt).toThrow(
    /backend: the native addon .*\.missing-addon-test\/build\/concord_native\.node could not be loaded .*apt-get install -y g\+\+ libopenblas-dev/,
  );
});
