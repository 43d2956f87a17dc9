/**
 * Keras model configs (the JSON in a Keras 2 `.h5` file's `model_config`, or
 * a Keras 3 `.keras` file's `config.json`) checked and translated into the
 * topology TensorFlow.js builds. The config is data: every layer class is
 * checked against a list, a `Lambda` layer (Python code) is refused, and
 * nothing in the file is ever executed.
 *
 * @module
 */

import { type NodeDialect, wireFunctional } from "./_keras_graph.ts";
import { KerasFileError } from "./keras_file_error.ts";
import type { KerasLayerConfig, KerasModelSettings } from "./_keras_layer_config.ts";

export type { KerasLayerConfig, KerasModelSettings };

export { KerasFileError } from "./keras_file_error.ts";

/** Layer classes convscope loads from Keras files. */
export const SUPPORTED_KERAS_LAYERS: readonly string[] = [
  "InputLayer",
  "Conv2D",
  "SeparableConv2D",
  "DepthwiseConv2D",
  "Conv2DTranspose",
  "MaxPooling2D",
  "AveragePooling2D",
  "GlobalAveragePooling2D",
  "GlobalMaxPooling2D",
  "Dense",
  "Flatten",
  "Dropout",
  "SpatialDropout2D",
  "Activation",
  "ReLU",
  "LeakyReLU",
  "BatchNormalization",
  "Rescaling",
  "Resizing",
  "ZeroPadding2D",
  "Cropping2D",
  "Add",
  "Concatenate",
  "Multiply",
  "Reshape",
  "Sequential",
  "Model",
  "Functional",
];

/**
 * Keras preprocessing-augmentation layers: random at training time, the
 * identity at inference, so they load as identity layers (with a note).
 */
export const AUGMENTATION_LAYERS: readonly string[] = [
  "RandomFlip",
  "RandomRotation",
  "RandomZoom",
  "RandomTranslation",
  "RandomContrast",
  "RandomBrightness",
];

const MODEL_CLASSES = new Set(["Sequential", "Model", "Functional"]);
/** Deeper nesting than any real model has (models in models, lists in call arguments). */
const MAX_NESTING = 64;

/** Regularizer classes tfjs knows under another name; all become its `L1L2`. */
const REGULARIZER_L1L2: Record<string, (c: Record<string, unknown>) => Record<string, number>> = {
  L1L2: (c) => ({ l1: Number(c.l1 ?? 0), l2: Number(c.l2 ?? 0) }),
  L1: (c) => ({ l1: Number(c.l1 ?? 0.01), l2: 0 }),
  L2: (c) => ({ l1: 0, l2: Number(c.l2 ?? 0.01) }),
};
const RESIZING_INTERPOLATIONS = ["bilinear", "nearest"];
const CONSTRAINTS = new Set(["MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm"]);

/**
 * Regularizers and constraints change training, never a prediction. Keras 3
 * writes `L2` and `L1` where tfjs knows only `L1L2`; those are renamed, and
 * anything tfjs cannot rebuild is dropped with a note.
 */
function translateTrainingOnly(
  settings: Record<string, unknown>,
  name: string,
  notes: string[],
): void {
  for (const key of Object.keys(settings)) {
    const value = settings[key] as { class_name?: unknown; config?: unknown } | null;
    if (value == null || !(key.endsWith("_regularizer") || key.endsWith("_constraint"))) continue;
    const cls = typeof value === "object" ? String(value.class_name) : String(value);
    const config = (typeof value === "object" && value.config && typeof value.config === "object"
      ? value.config
      : {}) as Record<string, unknown>;
    if (key.endsWith("_regularizer") && cls in REGULARIZER_L1L2) {
      settings[key] = { class_name: "L1L2", config: REGULARIZER_L1L2[cls](config) };
    } else if (key.endsWith("_constraint") && CONSTRAINTS.has(cls)) {
      settings[key] = { class_name: cls, config };
    } else {
      notes.push(`"${name}": ${key} ${cls} dropped (it only matters in training)`);
      settings[key] = null;
    }
  }
}

/** A batch shape with a free batch size: a file may fix it (Keras 3 keeps `batch_size=32`). */
function freeBatch(shape: unknown): unknown {
  return Array.isArray(shape) && shape.length > 0 ? [null, ...shape.slice(1)] : shape;
}

/** A translated config and what the translation had to say about it. */
export interface TranslatedConfig {
  /** The model topology in the (Keras 2) form TensorFlow.js reads. */
  topology: KerasLayerConfig;
  /** Remarks for the user, e.g. which augmentation layers became identities. */
  notes: string[];
}

/** Whether a layer config describes a nested model (its layers are walked too). */
export function isModelConfig(layer: KerasLayerConfig): boolean {
  return MODEL_CLASSES.has(layer.class_name);
}

/** A layer's name, wherever the Keras version put it. */
export function layerConfigName(layer: KerasLayerConfig): string {
  return String(layer.config?.name ?? layer.name ?? "?");
}

function dtypeName(dtype: unknown): string | undefined {
  if (dtype == null) return undefined;
  const name = typeof dtype === "string"
    ? dtype
    : String((dtype as { config?: { name?: string } }).config?.name ?? "float32");
  // Mixed-precision policies compute in float16 but keep float32 variables.
  return name.startsWith("mixed_") ? "float32" : name;
}

function refuse(label: string, layer: KerasLayerConfig, why: string): never {
  throw new KerasFileError(
    `${label}: layer "${layerConfigName(layer)}" (${layer.class_name}) ${why}`,
  );
}

/** Keras 3 serializes a node's inputs as KerasTensor objects; Keras 2 as `[name, node, tensor, {}]`. */
function legacyInboundNodes(nodes: unknown, label: string, layer: KerasLayerConfig): unknown[] {
  if (!Array.isArray(nodes)) refuse(label, layer, "has inbound_nodes that are not a list");
  return nodes.map((node) => {
    if (Array.isArray(node)) return node; // Keras 2 already.
    if (!node || typeof node !== "object") {
      refuse(label, layer, `has an inbound node that is neither a list nor an object`);
    }
    const args = (node as { args?: unknown[] }).args ?? [];
    const tensors: unknown[] = [];
    const collect = (value: unknown, depth = 0): void => {
      if (depth > MAX_NESTING) refuse(label, layer, "has call arguments nested too deeply");
      if (Array.isArray(value)) value.forEach((v) => collect(v, depth + 1));
      else if (
        value && typeof value === "object" &&
        (value as { class_name?: string }).class_name === "__keras_tensor__"
      ) {
        const history = (value as { config?: { keras_history?: unknown[] } }).config
          ?.keras_history;
        if (!Array.isArray(history) || history.length !== 3) {
          refuse(label, layer, "has an inbound tensor without a valid keras_history");
        }
        tensors.push([...history, {}]);
      }
    };
    collect(args);
    if (tensors.length === 0) refuse(label, layer, "has an inbound node with no input tensor");
    return tensors;
  });
}

/** Keras 3 writes a call's inputs as objects; Keras 2 (also in 2.13–2.15 `.keras` zips) as lists. */
function nodeDialect(layers: KerasLayerConfig[]): NodeDialect {
  const keras3 = layers.some((l) =>
    Array.isArray(l.inbound_nodes) && l.inbound_nodes.some((n) => !Array.isArray(n))
  );
  return keras3 ? "keras3" : "keras2";
}

function translateLayer(
  layer: KerasLayerConfig,
  label: string,
  notes: string[],
  depth = 0,
): KerasLayerConfig {
  if (
    !layer || typeof layer !== "object" || typeof layer.class_name !== "string" ||
    !layer.config || typeof layer.config !== "object" || Array.isArray(layer.config)
  ) {
    throw new KerasFileError(
      `${label}: a layer entry is not {class_name, config}: ${
        JSON.stringify(layer)?.slice(0, 120)
      }`,
    );
  }
  if (depth > MAX_NESTING) {
    throw new KerasFileError(
      `${label}: models nested more than ${MAX_NESTING} deep at "${layerConfigName(layer)}"`,
    );
  }
  const cls = layer.class_name;
  if (cls === "Lambda") {
    refuse(
      label,
      layer,
      "is a Lambda layer, which carries Python code; model files are data and convscope never runs code from them. Rebuild that part of the model in TypeScript.",
    );
  }
  // build_config is Keras 3's record of a built shape, read below where it matters.
  const { module: _m, registered_name: _r, build_config: _b, ...rest } = layer as
    & KerasLayerConfig
    & { build_config?: unknown };
  const settings: Record<string, unknown> = { ...layer.config };
  const dtype = dtypeName(settings.dtype);
  if (dtype) settings.dtype = dtype;
  translateTrainingOnly(settings, layerConfigName(layer), notes);
  if (settings.batch_input_shape != null) {
    settings.batch_input_shape = freeBatch(settings.batch_input_shape);
  }

  if (AUGMENTATION_LAYERS.includes(cls)) {
    notes.push(`"${layerConfigName(layer)}" (${cls}) is the identity at inference`);
    return {
      ...rest,
      class_name: "Activation",
      config: {
        name: layerConfigName(layer),
        trainable: settings.trainable ?? true,
        dtype: settings.dtype ?? "float32",
        activation: "linear",
      },
      ...(layer.inbound_nodes
        ? { inbound_nodes: legacyInboundNodes(layer.inbound_nodes, label, layer) }
        : {}),
    };
  }
  if (!SUPPORTED_KERAS_LAYERS.includes(cls)) {
    refuse(
      label,
      layer,
      `has class ${cls}, which convscope cannot load (supported: ${
        [...SUPPORTED_KERAS_LAYERS, ...AUGMENTATION_LAYERS].join(", ")
      })`,
    );
  }
  if (typeof settings.activation === "object" && settings.activation !== null) {
    refuse(label, layer, "uses a custom activation object, which convscope cannot load");
  }
  switch (cls) {
    case "InputLayer":
      if (settings.batch_shape && !settings.batch_input_shape) {
        settings.batch_input_shape = freeBatch(settings.batch_shape);
      }
      delete settings.batch_shape;
      delete settings.optional;
      delete settings.ragged;
      break;
    case "LeakyReLU":
      if (settings.negative_slope != null && settings.alpha == null) {
        settings.alpha = settings.negative_slope;
      }
      delete settings.negative_slope;
      break;
    case "ReLU":
      if (Number(settings.negative_slope ?? 0) !== 0 || Number(settings.threshold ?? 0) !== 0) {
        refuse(label, layer, "has a negative slope or threshold, which tfjs's ReLU lacks");
      }
      break;
    case "Conv2D":
    case "Conv2DTranspose":
      if (Number(settings.groups ?? 1) !== 1) {
        refuse(label, layer, `is a grouped convolution (groups ${settings.groups})`);
      }
      break;
    case "Dense":
      if (settings.lora_rank != null) refuse(label, layer, "has LoRA weights");
      break;
    case "GlobalAveragePooling2D":
    case "GlobalMaxPooling2D":
      if (settings.keepdims) refuse(label, layer, "keeps dims, which tfjs's layer cannot");
      break;
    case "Resizing": {
      const interpolation = String(settings.interpolation ?? "bilinear");
      if (!RESIZING_INTERPOLATIONS.includes(interpolation)) {
        refuse(
          label,
          layer,
          `resizes with "${interpolation}" interpolation; convscope implements ${
            RESIZING_INTERPOLATIONS.join(" and ")
          }`,
        );
      }
      if (settings.antialias) refuse(label, layer, "resizes with antialias, which convscope lacks");
      if ((settings.data_format ?? "channels_last") !== "channels_last") {
        refuse(label, layer, "works on channels_first images");
      }
      break;
    }
  }
  if (isModelConfig(layer)) {
    Object.assign(settings, translateModelSettings(layer, label, notes, depth));
  }
  const out: KerasLayerConfig = { ...rest, config: settings as KerasLayerConfig["config"] };
  if (layer.inbound_nodes) {
    out.inbound_nodes = legacyInboundNodes(layer.inbound_nodes, label, layer);
  }
  return out;
}

function translateModelSettings(
  model: KerasLayerConfig,
  label: string,
  notes: string[],
  depth: number,
): KerasModelSettings {
  const settings = model.config;
  const nested = depth > 0;
  if (!Array.isArray(settings.layers ?? [])) {
    throw new KerasFileError(
      `${label}: model "${layerConfigName(model)}" has layers that are not a list`,
    );
  }
  const layers = (settings.layers ?? []).map((l) => translateLayer(l, label, notes, depth + 1));
  if (layers.length === 0) {
    throw new KerasFileError(`${label}: model "${layerConfigName(model)}" has no layers`);
  }
  const out: KerasModelSettings = { ...settings, layers };
  if (model.class_name === "Sequential") {
    // Keras 3 records the shape a Sequential without an InputLayer was built for.
    const built = (model as { build_config?: { input_shape?: unknown } }).build_config?.input_shape;
    let shape = freeBatch(settings.build_input_shape ?? built) as number[] | null | undefined;
    // tfjs cannot wire a nested Sequential that starts with its own InputLayer
    // (Keras 2.4+ and 3 write one): its shape moves to the first real layer.
    if (nested && layers[0].class_name === "InputLayer" && layers.length > 1) {
      shape = layers.shift()!.config.batch_input_shape as number[] | undefined;
    }
    const first = layers[0];
    // Keras reads an input shape on the first layer only; later ones (a user's
    // input_shape on a middle layer) would only make tfjs warn.
    for (const later of layers.slice(1)) delete later.config.batch_input_shape;
    if (first.class_name !== "InputLayer" && shape && !first.config.batch_input_shape) {
      first.config = { ...first.config, batch_input_shape: shape };
    }
  } else {
    const { inputs, outputs } = wireFunctional(
      {
        name: layerConfigName(model),
        layers,
        inputs: settings.input_layers,
        outputs: settings.output_layers,
      },
      nodeDialect(settings.layers ?? []),
      label,
    );
    out.input_layers = inputs;
    out.output_layers = outputs;
  }
  return out;
}

/**
 * Checks a Keras model config (Keras 2 or 3; Sequential or Functional, nested
 * models included) and translates it into the topology TensorFlow.js reads.
 * Throws a {@linkcode KerasFileError} naming the first layer it cannot load.
 *
 * @example
 * ```ts
 * import { translateKerasConfig } from "./keras_config.ts";
 * const { topology, notes } = translateKerasConfig({
 *   class_name: "Sequential",
 *   config: { name: "m", layers: [
 *     { class_name: "InputLayer", config: { name: "in", batch_shape: [null, 4] } },
 *     { class_name: "RandomFlip", config: { name: "flip" } },
 *     { class_name: "Dense", config: { name: "d", units: 1 } },
 *   ] },
 * }, "model.keras");
 * console.log(topology.config.layers?.[1].class_name, notes); // "Activation" [...identity at inference]
 * ```
 */
export function translateKerasConfig(config: unknown, label: string): TranslatedConfig {
  let root = config as KerasLayerConfig;
  if (!root || typeof root !== "object" || typeof root.class_name !== "string") {
    throw new KerasFileError(`${label}: the model config has no class_name: not a Keras model`);
  }
  // Keras ≤ 2.2 Sequential: config is the bare list of layers.
  if (Array.isArray(root.config)) {
    root = {
      class_name: root.class_name,
      config: { name: "sequential", layers: root.config as unknown as KerasLayerConfig[] },
    };
  }
  if (!isModelConfig(root)) {
    throw new KerasFileError(
      `${label}: the top-level object is a ${root.class_name}, not a Sequential or Functional model`,
    );
  }
  const notes: string[] = [];
  const topology = translateLayer(root, label, notes, 0);
  return { topology, notes };
}
