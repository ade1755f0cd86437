// The committed experiment configs stay loadable as the config schema evolves, and the 60 000-iteration
// config stays a continuation of the 20 000-iteration runs (--resume accepts only iterations,
// keepCheckpoints and the description differing).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfigFile } from "@concord/runner";
import { describe, expect, it } from "vitest";

const configsDir = fileURLToPath(new URL("../configs/", import.meta.url));
const names = readdirSync(configsDir).filter((name) => name.endsWith(".json"));

describe("examples/omniglot/configs", () => {
  it("has the committed configs", () => {
    expect(names).toEqual(expect.arrayContaining(["label-noise-5w1s-fo.json", "paper-5w1s-fo.json", "paper-5w1s-fo-60k.json", "protonet-support-bn.json"]));
  });

  it.each(names)("%s loads", async (name) => {
    const config = await loadConfigFile(join(configsDir, name));
    expect(config.tasks.name).toBe("omniglot");
  });

  it("paper-5w1s-fo-60k.json continues paper-5w1s-fo.json", () => {
    const read = (name: string) => JSON.parse(readFileSync(join(configsDir, name), "utf8"));
    const { iterations, keepCheckpoints, description: _d, ...rest } = read("paper-5w1s-fo-60k.json");
    const { iterations: before, keepCheckpoints: keptBefore, description: _b, ...restBefore } = read("paper-5w1s-fo.json");
    expect(rest).toEqual(restBefore);
    expect([before, iterations]).toEqual([20_000, 60_000]);
    expect(keepCheckpoints).toEqual(expect.arrayContaining(keptBefore));
  });
});
