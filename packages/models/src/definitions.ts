// The models and objectives under the names configs and the CLI use: name, options schema, factory,
// description, and what an export needs to know (a model's input shape and outputs, whether an
// objective's targets are classes). Every registry is built from these.
import type { Model, ModelDefinition, ObjectiveDefinition } from "@concord/core";
import { z } from "zod";
import { type ConvNetBatchNorm, type ConvNetDownsample, type ConvNetHeadInit, type ConvNetModel, type ConvNetOptions, convNet } from "./conv-net.js";
import { MLP_ACTIVATIONS, MLP_INITS, type MlpActivation, type MlpInit, type MlpModel, type MlpOptions, mlp } from "./mlp.js";
import { meanSquaredError, softmaxCrossEntropy } from "./objectives.js";

const positiveInteger = z.number().int().min(1);
const CONV_NET_BATCH_NORMS = ["transductive", "support", "none"] as const satisfies readonly ConvNetBatchNorm[];
const CONV_NET_DOWNSAMPLES = ["max-pool", "strided"] as const satisfies readonly ConvNetDownsample[];
const CONV_NET_HEAD_INITS = ["glorot", "normal"] as const satisfies readonly ConvNetHeadInit[];

/** Concord's models: the MLP and the 4-block CNN of MAML/Reptile. */
export const modelDefinitions: readonly ModelDefinition<unknown>[] = [
  {
    kind: "model",
    name: "mlp",
    options: z.strictObject({
      sizes: z.array(positiveInteger).min(2),
      activation: z.enum(MLP_ACTIVATIONS as readonly [MlpActivation, ...MlpActivation[]]).optional(),
      init: z.enum(MLP_INITS as readonly [MlpInit, ...MlpInit[]]).optional(),
    }),
    description: "fully connected network",
    create: (options: MlpOptions) => mlp(options),
    shape: (model: Model) => {
      const { sizes } = model as MlpModel;
      return { inputShape: [sizes[0]!], outputs: sizes.at(-1)! };
    },
  },
  {
    kind: "model",
    name: "conv-net",
    options: z.strictObject({
      ways: z.union([z.literal(0), z.number().int().min(2)]),
      inputShape: z.tuple([positiveInteger, positiveInteger, positiveInteger]).optional(),
      filters: positiveInteger.optional(),
      blocks: positiveInteger.optional(),
      batchNorm: z.enum(CONV_NET_BATCH_NORMS).optional(),
      batchNormEpsilon: z.number().positive().refine(Number.isFinite, "a finite number").optional(),
      batchNormScale: z.boolean().optional(),
      downsample: z.enum(CONV_NET_DOWNSAMPLES).optional(),
      headInit: z.enum(CONV_NET_HEAD_INITS).optional(),
    }),
    description: "the 4-block CNN of MAML/Reptile",
    create: (options: ConvNetOptions) => convNet(options),
    shape: (model: Model) => {
      const { inputShape, ways } = model as ConvNetModel;
      return { inputShape: [...inputShape], outputs: ways };
    },
  },
];

/** Concord's objectives: regression and classification. */
export const objectiveDefinitions: readonly ObjectiveDefinition<unknown>[] = [
  { kind: "objective", name: "mse", options: z.strictObject({}), description: "mean squared error", create: () => meanSquaredError() },
  {
    kind: "objective",
    name: "cross-entropy",
    options: z.strictObject({}),
    description: "softmax cross-entropy",
    create: () => softmaxCrossEntropy(),
    classes: true,
  },
];
