import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConcordError, type WeightingScheme } from "@concord/core";
import { uniform } from "@concord/weighting";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createRegistry } from "./builtins.js";
import { loadPlugins, registerPluginModule } from "./plugins.js";

async function errorOf(f: () => unknown): Promise<ConcordError> {
  try {
    await f();
  } catch (error) {
    expect(error).toBeInstanceOf(ConcordError);
    return error as ConcordError;
  }
  throw new Error("expected a ConcordError");
}

describe("Registry", () => {
  it("creates built-ins by name", () => {
    const registry = createRegistry();
    expect(registry.create("weighting", "agreement").name).toBe("gradientAgreement");
    expect(registry.create("algorithm", { name: "maml", options: { order: 1 } }).name).toBe("fomaml");
    expect(registry.names("outerOptimizer")).toEqual(["sgd", "adam"]);
  });

  it("refuses a duplicate name and keeps the first registration", async () => {
    const registry = createRegistry();
    const error = await errorOf(() => registry.register("weighting", "uniform", () => uniform(), { source: "./mine.js" }));
    expect(error.message).toBe("weighting: plug-in 'uniform' from ./mine.js is already registered (from built-in); choose another name");
    expect(registry.create("weighting", "uniform").name).toBe("uniform");
  });

  it("names the plug-in and its source when the created object has the wrong shape", async () => {
    const registry = createRegistry();
    registry.register("weighting", "broken", () => ({ name: "broken" }) as unknown as WeightingScheme, { source: "./broken.js" });
    expect((await errorOf(() => registry.create("weighting", "broken"))).message).toBe(
      "weighting: plug-in 'broken' from ./broken.js has no weights() function",
    );
    registry.register("weighting", "nameless", () => ({ weights: () => ({}) }) as unknown as WeightingScheme, { source: "./x.js" });
    expect((await errorOf(() => registry.create("weighting", "nameless"))).message).toBe("weighting: plug-in 'nameless' from ./x.js has no string name");
  });

  it("suggests the closest name for an unknown plug-in", async () => {
    const error = await errorOf(() => createRegistry().create("weighting", "agreemnt"));
    expect(error.message).toBe(
      'weighting: expected one of "uniform", "agreement", "cosine-agreement", "tail-risk", "loss-softmax", "tr-maml", got "agreemnt" (did you mean "agreement"?)',
    );
  });

  it("validates built-in options: unknown option with suggestion, wrong value, factory errors prefixed", async () => {
    const registry = createRegistry();
    expect((await errorOf(() => registry.create("weighting", { name: "agreement", options: { epps: 0 } }))).message).toBe(
      'weighting.epps: unknown field; did you mean "eps"?',
    );
    expect((await errorOf(() => registry.create("innerOptimizer", { name: "sgd", options: { lr: -1 } }))).message).toBe(
      "innerOptimizer.lr: expected a number > 0, got -1",
    );
    expect((await errorOf(() => registry.create("model", { name: "mlp", options: { sizes: [1] } }))).message).toBe(
      "model.sizes: expected an array with at least 2 items, got [1]",
    );
  });
});

describe("runtime options", () => {
  it("reach the factory beside the validated config options, which still refuse unknown fields", () => {
    const registry = createRegistry();
    const seen: unknown[] = [];
    registry.register(
      "weighting",
      "recorder",
      (options) => {
        seen.push(options);
        return uniform();
      },
      { options: z.strictObject({ eps: z.number().optional() }) },
    );
    const pool = { threads: 3 };
    registry.create("weighting", { name: "recorder", options: { eps: 0.5 } }, "weighting", { pool });
    expect(seen).toEqual([{ eps: 0.5, pool }]);
    expect((seen[0] as { pool: unknown }).pool).toBe(pool);
    expect(() => registry.create("weighting", { name: "recorder", options: { pool: 1 } }, "weighting")).toThrow(/weighting\.pool: unknown field/);
  });
});

describe("asynchronous factories", () => {
  it("createAsync awaits a factory's promise and shape-checks the result; create refuses it", async () => {
    const registry = createRegistry();
    registry.register("weighting", "later", async () => uniform(), { source: "./later.js" });
    registry.register("weighting", "broken-later", async () => ({ name: "x" }) as unknown as WeightingScheme, { source: "./later.js" });
    expect((await registry.createAsync("weighting", "later")).name).toBe("uniform");
    expect((await errorOf(() => registry.create("weighting", "later"))).message).toBe(
      "weighting: plug-in 'later' from ./later.js loads asynchronously; create it with createAsync()",
    );
    expect((await errorOf(() => registry.createAsync("weighting", "broken-later"))).message).toBe(
      "weighting: plug-in 'broken-later' from ./later.js has no weights() function",
    );
  });
});

describe("plug-in files", () => {
  const folder = mkdtempSync(join(tmpdir(), "concord-plugins-"));

  it("loads a module's default export { kind: { name: factory } }", async () => {
    const file = join(folder, "ok.mjs");
    writeFileSync(file, `export default { weighting: { "first-task": () => ({ name: "first-task", weights: ({ updates }) => ({ weights: null }) }) } };\n`);
    const registry = createRegistry();
    await loadPlugins(registry, [file]);
    expect(registry.create("weighting", "first-task").name).toBe("first-task");
  });

  it("names a missing plug-in file", async () => {
    const error = await errorOf(() => loadPlugins(createRegistry(), ["./does-not-exist.js"], folder));
    expect(error.message).toBe(`./does-not-exist.js: plug-in file not found (looked at ${join(folder, "does-not-exist.js")})`);
  });

  it("refuses a plug-in without weights() when it is created", async () => {
    const file = join(folder, "no-weights.mjs");
    writeFileSync(file, `export default { weighting: { lazy: () => ({ name: "lazy" }) } };\n`);
    const registry = createRegistry();
    await loadPlugins(registry, [file]);
    expect((await errorOf(() => registry.create("weighting", "lazy"))).message).toBe(`weighting: plug-in 'lazy' from ${file} has no weights() function`);
  });

  it("refuses an unknown kind with a suggestion, and a module without a default export", async () => {
    expect((await errorOf(() => registerPluginModule(createRegistry(), { weightings: {} }, "./p.js"))).message).toMatch(
      /^\.\/p\.js: unknown plug-in kind "weightings"; did you mean "weighting"\?/,
    );
    expect((await errorOf(() => registerPluginModule(createRegistry(), undefined, "./p.js"))).message).toMatch(/^\.\/p\.js: expected a default export/);
  });
});

describe("typed plug-in definitions", () => {
  const folder = mkdtempSync(join(tmpdir(), "concord-definitions-"));
  /** A hand-written Standard Schema (no validator library): { scale?: number > 0 }. */
  const scaleSchema = {
    "~standard": {
      version: 1 as const,
      vendor: "hand-written",
      validate(value: unknown) {
        const scale = (value as { scale?: unknown }).scale;
        if (scale === undefined) return { value: { scale: 1 } };
        if (typeof scale !== "number" || !(scale > 0)) return { issues: [{ message: "a number > 0", path: [{ key: "scale" }] }] };
        return { value: { scale } };
      },
    },
  };

  it("validates options with any Standard Schema and reports failures like a built-in's: field path, expected, got", async () => {
    const registry = createRegistry();
    const created: unknown[] = [];
    registry.define({
      kind: "weighting",
      name: "scaled",
      options: scaleSchema,
      create: (options: { scale: number }) => {
        created.push(options);
        return uniform();
      },
    });
    registry.create("weighting", "scaled");
    registry.create("weighting", { name: "scaled", options: { scale: 2 } });
    expect(created).toEqual([{ scale: 1 }, { scale: 2 }]);
    expect((await errorOf(() => registry.create("weighting", { name: "scaled", options: { scale: -1 } }))).message).toBe(
      "weighting.scale: expected a number > 0, got -1",
    );
    expect((await errorOf(() => registry.create("weighting", { name: "scaled", options: { scale: "big" } }, "--weighting scaled"))).message).toBe(
      '--weighting scaled.scale: expected a number > 0, got "big"',
    );
  });

  it("keeps zod's messages for zod schemas (unknown field with a suggestion)", async () => {
    const registry = createRegistry();
    registry.define({ kind: "weighting", name: "zodded", options: z.strictObject({ eps: z.number().optional() }), create: () => uniform() });
    expect((await errorOf(() => registry.create("weighting", { name: "zodded", options: { epps: 1 } }))).message).toBe(
      'weighting.epps: unknown field; did you mean "eps"?',
    );
  });

  it("an asynchronous schema needs createAsync, which awaits it", async () => {
    const registry = createRegistry();
    const later = { "~standard": { version: 1 as const, vendor: "async", validate: async (value: unknown) => ({ value }) } };
    registry.define({ kind: "weighting", name: "async-checked", options: later, create: () => uniform() });
    expect((await errorOf(() => registry.create("weighting", "async-checked"))).message).toBe(
      "weighting: plug-in 'async-checked' from built-in validates its options asynchronously; create it with createAsync()",
    );
    expect((await registry.createAsync("weighting", "async-checked")).name).toBe("uniform");
  });

  it("refuses a definition whose options are not a Standard Schema, or whose kind is unknown", async () => {
    const registry = createRegistry();
    expect(
      (await errorOf(() => registry.define({ kind: "weighting", name: "x", options: { parse: () => ({}) } as never, create: () => uniform() }, "./x.js")))
        .message,
    ).toBe("weighting: plug-in 'x' from ./x.js has options that are not a Standard Schema (zod, valibot, …), got {}");
    expect((await errorOf(() => registry.define({ kind: "weightings", name: "x", create: () => uniform() } as never, "./x.js"))).message).toMatch(
      /^\.\/x\.js: kind: expected a plug-in kind .*, got "weightings" \(did you mean "weighting"\?\)$/,
    );
  });

  it("loads a module that default-exports an array of definitions, validating their options", async () => {
    const file = join(folder, "definitions.mjs");
    writeFileSync(
      file,
      `const positive = { "~standard": { version: 1, vendor: "mine", validate: (v) => typeof v.lr === "number" && v.lr > 0 ? { value: v } : { issues: [{ message: "a number > 0", path: ["lr"] }] } } };
export default [
  { kind: "weighting", name: "first-task", description: "all weight on task 0", create: () => ({ name: "first-task", weights: () => ({ weights: null }) }) },
  { kind: "innerOptimizer", name: "my-sgd", options: positive, create: ({ lr }) => ({ name: "my-sgd", init: () => undefined, step: (p) => ({ params: p, state: lr }) }) },
];\n`,
    );
    const registry = createRegistry();
    await loadPlugins(registry, [file]);
    expect(registry.create("weighting", "first-task").name).toBe("first-task");
    expect(registry.create("innerOptimizer", { name: "my-sgd", options: { lr: 0.1 } }).name).toBe("my-sgd");
    expect((await errorOf(() => registry.create("innerOptimizer", { name: "my-sgd", options: { lr: 0 } }))).message).toBe(
      "innerOptimizer.lr: expected a number > 0, got 0",
    );
    // A second load of the same names is refused, naming both sources.
    expect((await errorOf(() => loadPlugins(registry, [file]))).message).toBe(
      `weighting: plug-in 'first-task' from ${file} is already registered (from ${file}); choose another name`,
    );
  });
});
