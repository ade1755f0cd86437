import { describe, expect, it } from "vitest";
import { convNet } from "./conv-net.js";
import { modelDefinitions, objectiveDefinitions } from "./definitions.js";
import { MLP_ACTIVATIONS, mlp } from "./mlp.js";

const definition = (name: string) => modelDefinitions.find((d) => d.name === name)!;
const validate = (name: string, options: unknown) =>
  definition(name).options!["~standard"].validate(options) as { value?: unknown; issues?: readonly { path?: readonly unknown[] }[] };
const issuePath = (result: ReturnType<typeof validate>) =>
  result.issues?.[0]?.path?.map((segment) => (typeof segment === "object" ? (segment as { key: unknown }).key : segment));

describe("model definitions", () => {
  it("conv-net's schema checks every option's value, not only its keys", () => {
    expect(
      validate("conv-net", { ways: 5, inputShape: [28, 28, 1], filters: 32, blocks: 4, batchNorm: "support", batchNormEpsilon: 1e-3 }).issues,
    ).toBeUndefined();
    expect(validate("conv-net", { ways: 0 }).issues).toBeUndefined();
    expect(issuePath(validate("conv-net", { ways: 1 }))).toEqual(["ways"]);
    expect(issuePath(validate("conv-net", { ways: 5, inputShape: [28, 28] }))).toEqual(["inputShape"]);
    expect(issuePath(validate("conv-net", { ways: 5, filters: 2.5 }))).toEqual(["filters"]);
    expect(issuePath(validate("conv-net", { ways: 5, batchNorm: "batch" }))).toEqual(["batchNorm"]);
    expect(issuePath(validate("conv-net", { ways: 5, batchNormEpsilon: 0 }))).toEqual(["batchNormEpsilon"]);
    expect(issuePath(validate("conv-net", { ways: 5, dropout: 0.1 }))).toEqual([]);
  });

  it("mlp's schema takes its activation names from mlp() itself", () => {
    for (const activation of MLP_ACTIVATIONS) expect(validate("mlp", { sizes: [1, 2], activation }).issues).toBeUndefined();
    expect(issuePath(validate("mlp", { sizes: [1, 2], activation: "gelu" }))).toEqual(["activation"]);
    expect(() => mlp({ sizes: [1, 2], activation: "gelu" as never })).toThrow(/"relu", "tanh", "sigmoid", "none"/);
  });

  it("shape() states what an export records: input shape and outputs (0 for an embedding)", () => {
    expect(definition("mlp").shape!(mlp({ sizes: [3, 8, 4] }))).toEqual({ inputShape: [3], outputs: 4 });
    expect(definition("conv-net").shape!(convNet({ ways: 5, inputShape: [28, 28, 1], filters: 2 }))).toEqual({ inputShape: [28, 28, 1], outputs: 5 });
    expect(definition("conv-net").shape!(convNet({ ways: 0, filters: 2 }))).toEqual({ inputShape: [28, 28, 1], outputs: 0 });
  });

  it("only the classification objective takes class labels", () => {
    expect(objectiveDefinitions.map((d) => [d.name, Boolean(d.classes)])).toEqual([
      ["mse", false],
      ["cross-entropy", true],
    ]);
  });
});
