import * as tf from "@tensorflow/tfjs-core";
import { describeEachBackend } from "@concord/core/testing";
import { expect, it } from "vitest";
import { enginePatched } from "../registry-journal.js";
import { installLeanEndScope } from "./lean-end-scope.js";

/** Runs `body` with tfjs's own Engine.endScope (the prototype's), then puts Concord's back. */
function withTfjsEndScope<T>(body: () => T): T {
  const engine = tf.engine() as unknown as Record<string, unknown>;
  const lean = engine["endScope"];
  delete engine["endScope"];
  try {
    return body();
  } finally {
    engine["endScope"] = lean;
  }
}

/**
 * Scopes that end with one tensor in every relation to the scope: created inside, kept, created
 * outside, the input itself, from an inner scope, plus results that are not one tensor. Returns
 * which tensors are still alive afterwards and how numTensors moved.
 */
function scenario(): { alive: Record<string, boolean>; growth: number } {
  const before = tf.memory().numTensors;
  const outer = tf.tensor1d([1, 2, 3]);
  const tensors: Record<string, tf.Tensor> = {};
  let innerResult: tf.Tensor | undefined;
  const outerResult = tf.tidy(() => {
    tensors["made"] = tf.tidy(() => {
      tensors["temporary"] = tf.mul(outer, 2);
      return tf.add(tensors["temporary"], 1);
    });
    tensors["kept"] = tf.tidy(() => tf.keep(tf.neg(outer)));
    tensors["outerReturned"] = tf.tidy(() => outer);
    innerResult = tf.tidy(() => tf.tidy(() => tf.exp(outer)));
    tensors["dropped"] = tf.tidy(() => tf.sqrt(outer)); // tracked by the outer tidy, which does not return it
    const pair = tf.tidy(() => [tf.abs(outer), tf.square(outer)]);
    tensors["pair0"] = pair[0]!;
    tensors["pair1"] = pair[1]!;
    tf.tidy(() => {
      tensors["nothing"] = tf.sin(outer); // a scope returning nothing disposes everything
    });
    return innerResult;
  });
  tensors["innerResult"] = outerResult;
  const alive = Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, !t.isDisposed]));
  alive["outer"] = !outer.isDisposed;
  const growth = tf.memory().numTensors - before;
  tf.dispose([outer, outerResult, tensors["kept"]!]);
  return { alive, growth };
}

describeEachBackend("lean Engine.endScope", () => {
  it("is installed (vitest.setup.ts installs Concord)", () => {
    expect(installLeanEndScope()).toBe(true);
    expect(enginePatched("endScope")).toBe(true);
  });

  it("disposes and keeps exactly the tensors tfjs's endScope does", () => {
    const lean = scenario();
    const tfjs = withTfjsEndScope(scenario);
    expect(lean).toEqual(tfjs);
    // What that is: the returned, kept and outside tensors survive; the rest is disposed.
    expect(lean.alive).toEqual({
      made: false,
      temporary: false,
      kept: true,
      outerReturned: true,
      dropped: false,
      pair0: false,
      pair1: false,
      nothing: false,
      innerResult: true,
      outer: true,
    });
    expect(lean.growth).toBe(3); // outer, kept, the returned result
  });

  it("hands a scope's result to the enclosing scope, which disposes it when it does not return it", () => {
    let inner: tf.Tensor | undefined;
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      inner = tf.tidy(() => tf.ones([2]));
      expect(inner.isDisposed).toBe(false);
    });
    expect(inner!.isDisposed).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });
});
