import { ConcordError } from "@concord/core";
import { createRegistry, registerPluginModule } from "@concord/runner";
import { describe, expect, it } from "vitest";
import { cosineAgreementPlugin } from "./cosine-agreement-plugin.js";

function messageOf(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(ConcordError);
    return (error as Error).message;
  }
  throw new Error("expected a ConcordError");
}

describe("the cosine-agreement plug-in definition", () => {
  const registry = createRegistry();
  registerPluginModule(registry, [cosineAgreementPlugin], "./plugin.mjs");

  it("is created by name with its options, like a built-in", () => {
    expect(registry.create("weighting", "cosine-agreement").name).toBe("cosine-agreement");
    expect(registry.create("weighting", { name: "cosine-agreement", options: { eps: 0 } }).name).toBe("cosine-agreement");
  });

  it("has its options validated and reported like a built-in's", () => {
    expect(messageOf(() => registry.create("weighting", { name: "cosine-agreement", options: { eps: -1 } }))).toBe(
      "weighting.eps: expected a number >= 0, got -1",
    );
    expect(messageOf(() => registry.create("weighting", { name: "cosine-agreement", options: { epss: 1 } }))).toBe(
      'weighting.epss: unknown field; did you mean "eps"?',
    );
  });
});
