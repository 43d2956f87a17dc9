/**
 * Keras 2 HDF5 files: full models (`model.save("x.h5")`) and weights-only
 * files (`save_weights`, the keras.applications downloads), read with h5wasm.
 * The model file is data: its JSON config is validated layer by layer and
 * nothing in it is executed (a `Lambda` layer is refused).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import h5wasm from "h5wasm/node";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readSource, type Source } from "../io/source.ts";

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

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

interface H5Node {
  attrs: Record<string, { value: unknown }>;
  keys?: () => string[];
  value?: unknown;
  shape?: number[];
}
interface H5File extends H5Node {
  get(path: string): H5Node | null;
  close(): void;
}

/** A problem convscope found in a Keras file (as opposed to one HDF5 reported). */
export class KerasFileError extends Error {
  /** Always `"KerasFileError"`. */
  override name = "KerasFileError";
}

/** Whether bytes start with the HDF5 signature. */
export function isHdf5(bytes: Uint8Array): boolean {
  return HDF5_SIGNATURE.every((b, i) => bytes[i] === b);
}

async function openHdf5<T>(
  bytes: Uint8Array,
  label: string,
  use: (file: H5File) => T | Promise<T>,
): Promise<T> {
  if (!isHdf5(bytes)) throw new KerasFileError(`${label}: not an HDF5 file (no HDF5 signature)`);
  await h5wasm.ready;
  const dir = await mkdtemp(join(tmpdir(), "convscope-h5-"));
  const path = join(dir, "model.h5");
  await writeFile(path, bytes);
  let file: H5File | undefined;
  try {
    try {
      file = new h5wasm.File(path, "r") as unknown as H5File;
    } catch (error) {
      throw new KerasFileError(
        `${label}: corrupt or truncated HDF5 file (${(error as Error).message})`,
      );
    }
    try {
      return await use(file);
    } catch (error) {
      if (error instanceof KerasFileError) throw error;
      // h5wasm reports damaged structures with terse messages of its own.
      throw new KerasFileError(
        `${label}: corrupt or truncated HDF5 file (${(error as Error).message})`,
      );
    }
  } finally {
    try {
      file?.close();
    } catch { /* already closed */ }
    await rm(dir, { recursive: true, force: true });
  }
}

function attrText(node: H5Node, name: string): string | undefined {
  const value = node.attrs?.[name]?.value;
  if (value == null) return undefined;
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  return String(value);
}

function attrList(node: H5Node, name: string): string[] {
  const value = node.attrs?.[name]?.value;
  if (value == null) return [];
  // An empty list (layers without weights) reads back as an empty string or array.
  return (Array.isArray(value) ? value : [value])
    .map((v) => (v instanceof Uint8Array ? new TextDecoder().decode(v) : String(v)))
    .filter((v) => v.length > 0);
}

interface KerasLayerConfig {
  class_name: string;
  config: { name?: string; layers?: KerasLayerConfig[] } & Record<string, unknown>;
}

/** Refuses code-carrying and unknown layers with a message naming them. */
function validateLayers(layers: KerasLayerConfig[], label: string): void {
  for (const layer of layers) {
    const name = layer.config?.name ?? "?";
    if (layer.class_name === "Lambda") {
      throw new KerasFileError(
        `${label}: layer "${name}" is a Lambda layer, which carries Python code; model files are data and convscope never runs code from them. Rebuild that part of the model in TypeScript.`,
      );
    }
    if (!SUPPORTED_KERAS_LAYERS.includes(layer.class_name)) {
      throw new KerasFileError(
        `${label}: layer "${name}" has class ${layer.class_name}, which convscope cannot load (supported: ${
          SUPPORTED_KERAS_LAYERS.join(", ")
        })`,
      );
    }
    if (layer.config?.layers) validateLayers(layer.config.layers, label);
  }
}

function readWeightsByLayer(
  root: H5Node,
  file: H5File,
  prefix: string,
  label: string,
): Map<string, tf.Tensor[]> {
  const out = new Map<string, tf.Tensor[]>();
  const layerNames = attrList(root, "layer_names");
  if (layerNames.length === 0) {
    throw new KerasFileError(`${label}: no "layer_names" attribute: not a Keras weights file`);
  }
  for (const layerName of layerNames) {
    const group = file.get(`${prefix}${layerName}`);
    if (!group) {
      throw new KerasFileError(`${label}: layer "${layerName}" is listed but has no weight group`);
    }
    const tensors: tf.Tensor[] = [];
    for (const weightName of attrList(group, "weight_names")) {
      const dataset = file.get(`${prefix}${layerName}/${weightName}`);
      if (!dataset || dataset.shape == null) {
        throw new KerasFileError(`${label}: weight "${layerName}/${weightName}" is missing`);
      }
      const values = dataset.value as Float32Array;
      const shape = dataset.shape;
      if (values.length !== shape.reduce((a, b) => a * b, 1)) {
        throw new KerasFileError(
          `${label}: weight "${layerName}/${weightName}" holds ${values.length} values for shape [${shape}]`,
        );
      }
      tensors.push(tf.tensor(Float32Array.from(values), shape));
    }
    out.set(layerName, tensors);
  }
  return out;
}

/** Copies weights into the model's layers of the same names; every mismatch is listed. */
function assignWeights(
  model: tf.LayersModel,
  weights: Map<string, tf.Tensor[]>,
  label: string,
  strict: boolean,
): void {
  const problems: string[] = [];
  const layers = new Map(model.layers.map((l) => [l.name, l]));
  for (const [name, tensors] of weights) {
    const layer = layers.get(name);
    if (!layer) {
      if (tensors.length > 0) problems.push(`"${name}" is in the file but not in the model`);
      continue;
    }
    const expected = layer.getWeights();
    if (expected.length !== tensors.length) {
      problems.push(
        `"${name}": the file has ${tensors.length} weights, the layer ${expected.length}`,
      );
      continue;
    }
    const bad = expected.findIndex((w, i) => w.shape.join() !== tensors[i].shape.join());
    if (bad >= 0) {
      problems.push(
        `"${name}" weight ${bad}: file [${tensors[bad].shape}], layer [${expected[bad].shape}]`,
      );
      continue;
    }
    layer.setWeights(tensors);
  }
  if (strict) {
    for (const layer of model.layers) {
      if (layer.getWeights().length > 0 && !weights.has(layer.name)) {
        problems.push(`"${layer.name}" has no weights in the file`);
      }
    }
  }
  for (const tensors of weights.values()) tf.dispose(tensors);
  if (problems.length > 0) {
    throw new KerasFileError(`${label}: weights do not match the model: ${problems.join("; ")}`);
  }
}

/**
 * Loads a Keras 2 full-model HDF5 file (`model.save("x.h5")`, both the old
 * list-of-layers and the `{name, layers}` config styles; Sequential and
 * Functional) as a tfjs `LayersModel`, weights included.
 *
 * @example
 * ```ts
 * import { initBackend, loadKerasModel } from "convscope";
 * await initBackend();
 * const model = await loadKerasModel("cats_and_dogs_small_2.h5");
 * model.summary();
 * ```
 */
export async function loadKerasModel(source: Source): Promise<tf.LayersModel> {
  const { bytes, label } = await readSource(source);
  if (bytes[0] === 0x50 && bytes[1] === 0x4b) {
    throw new KerasFileError(
      `${label}: a Keras 3 .keras (zip) file; convscope reads Keras 2 HDF5 (.h5) files so far`,
    );
  }
  return await openHdf5(bytes, label, (file) => {
    const text = attrText(file, "model_config");
    if (!text) {
      throw new KerasFileError(
        `${label}: no "model_config" attribute: a weights-only file? Build the model in TypeScript and use loadKerasWeights`,
      );
    }
    let config: KerasLayerConfig;
    try {
      config = JSON.parse(text);
    } catch (error) {
      throw new KerasFileError(
        `${label}: model_config is not valid JSON (${(error as Error).message})`,
      );
    }
    // Keras ≤ 2.2 Sequential: config is the bare list of layers.
    if (Array.isArray(config.config)) {
      config = {
        class_name: config.class_name,
        config: { name: "sequential", layers: config.config },
      };
    }
    validateLayers(config.config.layers ?? [], label);
    const kerasVersion = attrText(file, "keras_version") ?? "2";
    const model = tf.models.modelFromJSON(
      {
        modelTopology: { ...config, keras_version: kerasVersion, backend: "tensorflow" },
      } as unknown as Parameters<typeof tf.models.modelFromJSON>[0],
    ) as unknown as Promise<tf.LayersModel>;
    return model.then((m) => {
      const root = file.get("model_weights");
      if (!root) throw new KerasFileError(`${label}: no "model_weights" group`);
      assignWeights(m, readWeightsByLayer(root, file, "model_weights/", label), label, true);
      return m;
    });
  });
}

/**
 * Loads a Keras weights-only HDF5 file (`save_weights`, or the
 * keras.applications `*_weights_tf_dim_ordering_tf_kernels*.h5` files) into
 * a model built in TypeScript, matching layers by name. Unmatched names and
 * shape mismatches are listed in the error.
 *
 * @example
 * ```ts
 * import { initBackend, loadKerasWeights, vgg16 } from "convscope";
 * await initBackend();
 * const model = vgg16();
 * await loadKerasWeights(model, "vgg16_weights_tf_dim_ordering_tf_kernels.h5");
 * ```
 */
export async function loadKerasWeights(
  model: tf.LayersModel,
  source: Source,
): Promise<tf.LayersModel> {
  const { bytes, label } = await readSource(source);
  await openHdf5(bytes, label, (file) => {
    const root = file.get("model_weights") ?? file;
    const prefix = file.get("model_weights") ? "model_weights/" : "";
    assignWeights(model, readWeightsByLayer(root, file, prefix, label), label, true);
  });
  return model;
}
