import { maml, protoNet, reptile } from "@concord/algorithms";
import { convNet, meanSquaredError, mlp, softmaxCrossEntropy } from "@concord/models";
import { adam, metaSgd, sgd } from "@concord/optimizers";
import { sinusoidFamily } from "@concord/tasks";
import { omniglotFamily } from "@concord/tasks/node";
import {
  type CosineAgreementOptions,
  cosineAgreement,
  gradientAgreement,
  type LossSoftmaxOptions,
  lossSoftmax,
  type TailRiskOptions,
  tailRisk,
  type TrMamlOptions,
  trMaml,
  uniform,
} from "@concord/weighting";
import { z } from "zod";
import { Registry } from "./registry.js";

const finite = z.number().refine(Number.isFinite, "a finite number");
const execution = z.enum(["auto", "batched", "per-task"]).optional();
/** Batched execution: tasks per batched pass (bounds memory; the CNN's second-order tape grows with it). */
const chunkSize = z.number().int().min(1).optional();
/** Which parameters the inner loop adapts: "all", "head" (ANIL) or parameter names (checked against the model at the first step). */
const adapt = z.union([z.enum(["all", "head"]), z.array(z.string().min(1)).min(1)]).optional();
/** Only these option names; their values are checked by the factory itself. */
const keysOnly = (keys: readonly string[]) => z.strictObject(Object.fromEntries(keys.map((key) => [key, z.unknown().optional()])));

/**
 * Registers Concord's own plug-ins under the names configs use. The only runner file that names
 * specific task families, models, weighting schemes, algorithms and optimizers.
 */
export function registerBuiltins(registry: Registry): Registry {
  registry.register("weighting", "uniform", () => uniform(), { options: z.strictObject({}), description: "w_i = 1/N" });
  registry.register("weighting", "agreement", (o) => gradientAgreement(o as { eps?: number }), {
    options: z.strictObject({ eps: finite.min(0).optional() }),
    description: "gradient agreement: w_i ∝ Σ_j g_iᵀ g_j, normalised by Σ_k |Σ_j g_kᵀ g_j|",
  });
  registry.register("weighting", "cosine-agreement", (o) => cosineAgreement(o as CosineAgreementOptions), {
    options: z.strictObject({ eps: finite.min(0).optional() }),
    description: "gradient agreement on unit vectors: w_i ∝ Σ_j cos(g_i, g_j), normalised by Σ_k |Σ_j cos(g_k, g_j)|",
  });
  registry.register("weighting", "tail-risk", (o) => tailRisk(o as unknown as TailRiskOptions), {
    options: z.strictObject({ alpha: finite.gt(0).max(1) }),
    description: "CVaR_alpha: w_i = 1/k on the k = max(1, ⌈alpha·N⌉) tasks with the largest query loss, 0 elsewhere",
  });
  registry.register("weighting", "loss-softmax", (o) => lossSoftmax(o as LossSoftmaxOptions), {
    options: z.strictObject({ temperature: finite.gt(0).optional() }),
    description: "w = softmax(L / temperature) over the tasks' query losses (temperature default 1)",
  });
  // TR-MAML keeps a distribution p over the sampler's task groups (saved with getState/setState).
  registry.register("weighting", "tr-maml", (o) => trMaml(o as unknown as TrMamlOptions), {
    options: z.strictObject({ groups: z.number().int().min(1), lr: finite.min(0) }),
    description: "TR-MAML: w_i = p_g(i) / (n_g(i) Σ_present p), then p ← Π_Δ(p + lr·mean group loss); needs a sampler with task groups",
  });

  // diagnostics: false skips the three extra loss passes per task (losses before/after); the weighting diagnostics stay.
  const diagnostics = z.boolean().optional();
  registry.register("algorithm", "maml", (o) => maml(o as Parameters<typeof maml>[0]), {
    options: z.strictObject({ order: z.union([z.literal(1), z.literal(2)]).optional(), innerSteps: z.number().int().min(0).optional(), execution, chunkSize, adapt, diagnostics }),
    description: 'MAML (order 2 differentiates through the inner loop; order 1 is FOMAML); adapt: "head" is ANIL',
  });
  registry.register("algorithm", "fomaml", (o) => maml({ ...(o as Parameters<typeof maml>[0]), order: 1 }), {
    options: z.strictObject({ innerSteps: z.number().int().min(0).optional(), execution, chunkSize, adapt, diagnostics }),
    description: "first-order MAML",
  });
  registry.register("algorithm", "reptile", (o) => reptile(o as Parameters<typeof reptile>[0]), {
    options: z.strictObject({ innerSteps: z.number().int().min(0).optional(), execution, chunkSize, adapt, diagnostics }),
    description: "Reptile: d = Σ_i w_i (θ − θ'_i)",
  });

  registry.register("algorithm", "proto-net", () => protoNet(), {
    options: z.strictObject({}),
    description:
      "Prototypical Networks: logits −‖f(x) − c_k‖² to class-mean support embeddings c_k, no inner loop; g_i = ∇L_i (one unit step), d = Σ_i w_i ∇L_i. Model: an embedding (conv-net ways 0)",
  });

  registry.register("model", "mlp", (o) => mlp(o as unknown as Parameters<typeof mlp>[0]), {
    options: z.strictObject({
      sizes: z.array(z.number().int().min(1)).min(2),
      activation: z.enum(["relu", "tanh", "sigmoid", "none"]).optional(),
      init: z.enum(["he", "pytorch"]).optional(),
    }),
    description: "fully connected network",
  });
  registry.register("model", "conv-net", (o) => convNet(o as unknown as Parameters<typeof convNet>[0]), {
    options: keysOnly(["ways", "inputShape", "filters", "blocks", "batchNorm", "batchNormEpsilon"]),
    description: "the 4-block CNN of MAML/Reptile",
  });

  // Task families bring their own option schemas, presets, evaluation variants and report panels.
  registry.define(sinusoidFamily);
  registry.define(omniglotFamily);

  registry.register("objective", "mse", () => meanSquaredError(), { options: z.strictObject({}), description: "mean squared error" });
  registry.register("objective", "cross-entropy", () => softmaxCrossEntropy(), { options: z.strictObject({}), description: "softmax cross-entropy" });

  const lr = finite.gt(0);
  registry.register("innerOptimizer", "sgd", (o) => sgd(o as { lr: number }), { options: z.strictObject({ lr }), description: "θ ← θ − α ∇L" });
  registry.register("innerOptimizer", "meta-sgd", (o) => metaSgd(o as { lr: number }), {
    options: z.strictObject({ lr }),
    description: "Meta-SGD: θ ← θ − a ⊙ ∇L, per-element rates a (parameters lr/<name>, initialised to lr) learned by the outer loop",
  });
  registry.register("outerOptimizer", "sgd", (o) => sgd(o as { lr: number }), { options: z.strictObject({ lr }), description: "θ ← θ − β d" });
  registry.register("outerOptimizer", "adam", (o) => adam(o as { lr: number }), {
    options: z.strictObject({ lr, beta1: finite.min(0).lt(1).optional(), beta2: finite.min(0).lt(1).optional(), epsilon: finite.min(0).optional() }),
    description: "Adam (PyTorch's update)",
  });
  return registry;
}

/** A registry holding Concord's built-in plug-ins. */
export function createRegistry(): Registry {
  return registerBuiltins(new Registry());
}
