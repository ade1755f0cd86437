import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { ConcordError } from "@concord/core";
import { describe, expect, it } from "vitest";
import { createRegistry } from "./builtins.js";
import { parseConfig } from "./config.js";
import { tinyConfig } from "./testing/tiny-config.js";

function messageOf(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(ConcordError);
    return (error as Error).message;
  }
  throw new Error("expected a ConcordError");
}

describe("the weighting schemes registered by name", () => {
  const registry = createRegistry();

  it("lists every built-in scheme", () => {
    expect(registry.names("weighting")).toEqual(["uniform", "agreement", "cosine-agreement", "tail-risk", "loss-softmax", "tr-maml"]);
  });

  it("builds each from a config and the scheme computes weights", async () => {
    await tf.setBackend("cpu");
    const cases = [
      [{ name: "cosine-agreement" }, "cosineAgreement", [6 / 17, 9 / 17, 2 / 17]],
      [{ name: "cosine-agreement", eps: 1e-6 }, "cosineAgreement", [6 / 17, 9 / 17, 2 / 17]],
      [{ name: "tail-risk", alpha: 0.5 }, "tailRisk", [0, 0.5, 0.5]],
      [{ name: "loss-softmax" }, "lossSoftmax", [1, 2, 3].map((x) => x / 6)],
      [{ name: "loss-softmax", temperature: 0.5 }, "lossSoftmax", [1, 4, 9].map((x) => x / 14)],
      [{ name: "tr-maml", groups: 2, lr: 0.1 }, "trMaml", [0.25, 0.25, 0.5]],
    ] as const;
    for (const [weighting, name, expected] of cases) {
      const config = parseConfig(tinyConfig({ weighting }));
      const scheme = registry.create("weighting", config.weighting);
      expect(scheme.name).toBe(name);
      // Rows (3,4),(0,2),(−5,0); losses (0, ln 2, ln 3); groups (0, 0, 1).
      const updates = tf.tensor2d([
        [3, 4],
        [0, 2],
        [-5, 0],
      ]);
      const losses = tf.tensor1d([0, Math.log(2), Math.log(3)]);
      const result = scheme.weights({ updates, losses, iteration: 0, groups: [0, 0, 1] });
      const weights = Array.from(result.weights.dataSync());
      tf.dispose([updates, losses, result.weights]);
      weights.forEach((w, i) => expect(Math.abs(w - expected[i]!), `${weighting.name} weight ${i}`).toBeLessThanOrEqual(1e-6));
    }
  });

  it("refuses missing, unknown or out-of-range options, naming the option", () => {
    const create = (weighting: Record<string, unknown>) => () => {
      const { name, ...options } = weighting;
      return registry.create("weighting", { name: name as string, options });
    };
    expect(messageOf(create({ name: "tail-risk" }))).toMatch(/^weighting\.alpha: /);
    expect(messageOf(create({ name: "tail-risk", alpha: 0 }))).toBe("weighting.alpha: expected a number > 0, got 0");
    expect(messageOf(create({ name: "tail-risk", alpha: 1.5 }))).toBe("weighting.alpha: expected a number <= 1, got 1.5");
    expect(messageOf(create({ name: "loss-softmax", temperature: 0 }))).toBe("weighting.temperature: expected a number > 0, got 0");
    expect(messageOf(create({ name: "loss-softmax", temprature: 2 }))).toBe('weighting.temprature: unknown field; did you mean "temperature"?');
    expect(messageOf(create({ name: "cosine-agreement", eps: -1 }))).toBe("weighting.eps: expected a number >= 0, got -1");
    expect(messageOf(create({ name: "tr-maml", lr: 0.1 }))).toMatch(/^weighting\.groups: /);
    expect(messageOf(create({ name: "tr-maml", groups: 1.5, lr: 0.1 }))).toMatch(/^weighting\.groups: expected an integer/);
    expect(messageOf(create({ name: "tr-maml", groups: 2, lr: -1 }))).toBe("weighting.lr: expected a number >= 0, got -1");
    expect(messageOf(create({ name: "tr-maml", groups: 2 }))).toMatch(/^weighting\.lr: /);
  });
});
