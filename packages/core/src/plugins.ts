// Typed plug-in definitions: what each package and each plug-in module gives the registry.
import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { Batch, InnerOptimizer, MetaAlgorithm, Model, Objective, OuterOptimizer, Params, TaskSampler, WeightingScheme } from "./types.js";

export type { StandardSchemaV1 } from "@standard-schema/spec";

/** What each kind of plug-in creates; the keys are the config fields that name them. */
export interface PluginTypes {
  weighting: WeightingScheme;
  algorithm: MetaAlgorithm;
  model: Model;
  tasks: TaskSampler;
  objective: Objective;
  innerOptimizer: InnerOptimizer;
  outerOptimizer: OuterOptimizer;
}

export type PluginKind = keyof PluginTypes;

/**
 * A named plug-in: `create(options)` builds it from a config's options (every field but `name`),
 * after `options` — any Standard Schema (zod 4, valibot, arktype, a hand-written one) — has checked
 * them. A registry reports schema failures like a built-in's: the field path, what was expected,
 * what was given. Without a schema, `create` gets the options unchecked.
 */
export interface PluginDefinition<Kind extends PluginKind = PluginKind, Options = Record<string, unknown>> {
  readonly kind: Kind;
  /** The name configs and the CLI use, e.g. "agreement". */
  readonly name: string;
  /** One line for listings. */
  readonly description?: string;
  readonly options?: StandardSchemaV1<unknown, Options>;
  /** May return a promise (a task family that loads a data set). */
  create(options: Options): PluginTypes[Kind] | Promise<PluginTypes[Kind]>;
}

/** A whole experiment config a task family offers under a name (`concord train <name>`); the runner validates it. */
export interface PresetDefinition {
  readonly name: string;
  /** One line for `concord presets`. */
  readonly description: string;
  /** The config in its input form (JSON-like), e.g. `{ tasks: { name: "sinusoid" }, model: …, iterations: … }`. */
  readonly config: Readonly<Record<string, unknown>>;
}

/**
 * A report panel: plain data the runner renders into the report (an SVG chart and a section).
 * `spec` is a Vega-Lite specification with its data inlined (`data: { values: [...] }`); without a
 * `config`, the report's chart style applies.
 */
export interface ReportPanel {
  /** File name stem and page anchor ([a-z0-9-]); default: derived from the title. */
  readonly id?: string;
  readonly title: string;
  readonly spec: Readonly<Record<string, unknown>>;
  readonly caption?: string;
}

/** The final parameters of one compared arm (algorithm × weighting; its first seed). */
export interface ReportArmParams {
  readonly name: string;
  readonly params: Params;
}

/** What a task family may draw its report panels from. Tensors are owned by the runner. */
export interface ReportPanelContext<Options> {
  readonly arms: readonly ReportArmParams[];
  readonly model: Model;
  readonly objective: Objective;
  readonly innerOptimizer: InnerOptimizer;
  /** The run's validated task options (training tasks, as configured). */
  readonly taskOptions: Options;
  /** Inner steps and seed of the held-out evaluation: panels show the same adaptation on fixed tasks. */
  readonly steps: number;
  readonly seed: number;
  /** θ' after `steps` inner steps on `support` (the algorithms' adapt(), which task families cannot import). */
  readonly adapt: (params: Params, support: Batch, steps: number) => Params;
}

/**
 * How a task family made its model inputs from raw data, so a deployment can prepare its own inputs the
 * same way. `kind: "none"` means the model's inputs are used as given (e.g. sinusoid x values).
 */
export type InputPreprocessing =
  | { readonly kind: "none" }
  | {
      readonly kind: "omniglot-drawing";
      /** What the raw images were: Omniglot's 105×105 1-bit PNGs, black strokes on white. */
      readonly source: string;
      /** [height, width] of the model input. */
      readonly size: readonly [number, number];
      /** Resampling from the source size: area (box) resampling. */
      readonly resize: "area";
      /** Inverted after resizing: v = 1 − resized (strokes 1, background 0). */
      readonly invert: true;
      /** Stored as round(255·clamp(v, 0, 1)) and read back as that / 255. */
      readonly quantization: "uint8";
      /** Value range of every input pixel. */
      readonly range: readonly [number, number];
      /** Human-readable summary of the whole pipeline. */
      readonly description: string;
    };

/**
 * A task family: a `tasks` plug-in that also brings its presets, the clean variant it is evaluated
 * on, report panels and its input preprocessing, so the runner treats a third-party family like a
 * built-in one.
 */
export interface TaskFamilyDefinition<Options = Record<string, unknown>> extends PluginDefinition<"tasks", Options> {
  readonly presets?: readonly PresetDefinition[];
  /** How raw data became model inputs; exported with meta-learned models (default: `{ kind: "none" }`). */
  readonly preprocessing?: InputPreprocessing;
  /** The options of the held-out evaluation tasks, given the training ones (e.g. without corruption). Default: the same. */
  evaluationOptions?(options: Options): Options;
  reportPanels?(context: ReportPanelContext<Options>): readonly ReportPanel[] | Promise<readonly ReportPanel[]>;
}

/** What a created model takes and gives, as its definition states it (exports record it; their loaders check it). */
export interface ModelShape {
  /** Shape of one input example, e.g. [28, 28, 1] or [1]. */
  readonly inputShape: readonly number[];
  /** Outputs per example (the classes of a classifier); 0 for an embedding without a head (conv-net ways 0). */
  readonly outputs: number;
}

/** A model plug-in that can say what its models take and give; `concord export` needs `shape`. */
export interface ModelDefinition<Options = Record<string, unknown>> extends PluginDefinition<"model", Options> {
  shape?(model: Model): ModelShape;
}

/** An objective plug-in; `classes: true` means its targets are class indices (an export records the number of classes). */
export interface ObjectiveDefinition<Options = Record<string, unknown>> extends PluginDefinition<"objective", Options> {
  readonly classes?: boolean;
}

/** The definition type of each kind: task families, models and objectives say more than the others. */
export type DefinitionOf<K extends PluginKind, Options = unknown> = K extends "tasks"
  ? TaskFamilyDefinition<Options>
  : K extends "model"
    ? ModelDefinition<Options>
    : K extends "objective"
      ? ObjectiveDefinition<Options>
      : PluginDefinition<K, Options>;

/** Any plug-in definition a plug-in module may export. */
export type AnyPluginDefinition = { [K in PluginKind]: DefinitionOf<K> }[PluginKind];

/**
 * Plug-in definitions by kind and name: what a consumer of names needs of a registry (the runner's
 * Registry has this shape; @concord/deploy's loader takes one to create what an export names).
 */
export interface PluginLookup {
  definition<K extends PluginKind>(kind: K, name: string): DefinitionOf<K> | undefined;
  names(kind: PluginKind): readonly string[];
}
