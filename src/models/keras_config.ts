/**
 * Keras model configs (the JSON in a Keras 2 `.h5` file's `model_config`, or
 * a Keras 3 `.keras` file's `config.json`) checked and translated into the
 * topology TensorFlow.js builds. The config is data: every layer class is
 * checked against a list, a `Lambda` layer (Python code) is refused, and
 * nothing in the file is ever executed.
 *
 * @module
 */

/** A problem convscope found in a model file (as opposed to one the OS or HDF5 reported). */
export class KerasFileError extends Error {
  /** Always `"KerasFileError"`. */
  override name = "KerasFileError";
}

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

/** One entry of a Keras `layers` list, Keras 2 or Keras 3 style. */
export interface KerasLayerConfig {
  /** The layer class, e.g. `"Conv2D"`. */
  class_name: string;
  /** The layer's own settings; for nested models, their `layers` too. */
  config: KerasModelSettings & Record<string, unknown>;
  /** The layer name (Functional models repeat it here). */
  name?: string;
  /** Keras 2: `[[[name, node, tensor, kwargs], …]]`; Keras 3: `[{ args, kwargs }]`. */
  inbound_nodes?: unknown[];
  /** Keras 3 only: the Python module of the class. */
  module?: string;
  /** Keras 3 only: a custom class's registered name. */
  registered_name?: string | null;
}

/** The settings of a Sequential or Functional model config. */
export interface KerasModelSettings {
  /** The model or layer name. */
  name?: string;
  /** The layers (models only). */
  layers?: KerasLayerConfig[];
  /** Functional inputs: `[[name, node, tensor], …]`. */
  input_layers?: unknown;
  /** Functional outputs: `[[name, node, tensor], …]`. */
  output_layers?: unknown;
  /** Keras 3 Sequential without an InputLayer. */
  build_input_shape?: number[] | null;
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
function legacyInboundNodes(nodes: unknown[], label: string, layer: KerasLayerConfig): unknown[] {
  return nodes.map((node) => {
    if (Array.isArray(node)) return node; // Keras 2 already.
    const args = (node as { args?: unknown[] }).args ?? [];
    const tensors: unknown[] = [];
    const collect = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(collect);
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

function tensorRefs(refs: unknown): unknown {
  // A single [name, node, tensor] reference is also accepted where a list is expected.
  return Array.isArray(refs) && typeof refs[0] === "string" ? [refs] : refs;
}

function translateLayer(
  layer: KerasLayerConfig,
  label: string,
  notes: string[],
  nested = true,
): KerasLayerConfig {
  const cls = layer.class_name;
  if (cls === "Lambda") {
    refuse(
      label,
      layer,
      "is a Lambda layer, which carries Python code; model files are data and convscope never runs code from them. Rebuild that part of the model in TypeScript.",
    );
  }
  const { module: _module, registered_name: _registered, ...rest } = layer;
  const settings: Record<string, unknown> = { ...layer.config };
  const dtype = dtypeName(settings.dtype);
  if (dtype) settings.dtype = dtype;

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
        settings.batch_input_shape = settings.batch_shape;
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
  }
  if (isModelConfig(layer)) {
    Object.assign(settings, translateModelSettings(layer, label, notes, nested));
  }
  const out: KerasLayerConfig = { ...rest, config: settings as KerasLayerConfig["config"] };
  if (layer.inbound_nodes) {
    out.inbound_nodes = legacyInboundNodes(layer.inbound_nodes, label, layer);
  }
  return out;
}

/**
 * A nested model's node 0 is its own input→output node, which Keras leaves
 * out of configs and skips when it loads them (`_should_skip_first_node`);
 * tfjs does not skip it, so references to nested models move one node on.
 */
function shiftNestedNodes(refs: unknown, layers: KerasLayerConfig[]): unknown {
  const nested = new Set(layers.filter(isModelConfig).map(layerConfigName));
  if (!Array.isArray(refs)) return refs;
  return refs.map((ref) =>
    Array.isArray(ref) && typeof ref[0] === "string" && nested.has(ref[0])
      ? [ref[0], Number(ref[1]) + 1, ...ref.slice(2)]
      : ref
  );
}

function translateModelSettings(
  model: KerasLayerConfig,
  label: string,
  notes: string[],
  nested: boolean,
): KerasModelSettings {
  const settings = model.config;
  const layers = (settings.layers ?? []).map((l) => translateLayer(l, label, notes));
  if (layers.length === 0) {
    throw new KerasFileError(`${label}: model "${layerConfigName(model)}" has no layers`);
  }
  const out: KerasModelSettings = { ...settings, layers };
  if (model.class_name === "Sequential") {
    let shape = settings.build_input_shape;
    // tfjs cannot wire a nested Sequential that starts with its own InputLayer
    // (Keras 2.4+ and 3 write one): its shape moves to the first real layer.
    if (nested && layers[0].class_name === "InputLayer" && layers.length > 1) {
      shape = layers.shift()!.config.batch_input_shape as number[] | undefined;
    }
    const first = layers[0];
    if (first.class_name !== "InputLayer" && shape && !first.config.batch_input_shape) {
      first.config = { ...first.config, batch_input_shape: shape };
    }
  } else {
    out.input_layers = tensorRefs(settings.input_layers);
    out.output_layers = shiftNestedNodes(tensorRefs(settings.output_layers), layers);
    for (const layer of layers) {
      if (layer.inbound_nodes) {
        layer.inbound_nodes = layer.inbound_nodes.map((node) => shiftNestedNodes(node, layers));
      }
    }
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
 * import { translateKerasConfig } from "convscope";
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
  const topology = translateLayer(root, label, notes, false);
  return { topology, notes };
}
