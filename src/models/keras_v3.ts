/**
 * Keras 3 `.keras` files: a zip of `config.json`, `metadata.json` and
 * `model.weights.h5`. The weights file does not use layer names: Keras stores
 * each layer under the snake_case name of its class with a per-class counter,
 * in the order of `model.layers` (`layers/conv2d`, `layers/conv2d_1`, …,
 * nested models as `layers/sequential/layers/…`), so a layer named
 * `conv2d_8` in the config may sit at `layers/conv2d`. This module matches
 * them exactly as Keras's own loader does and fails on any mismatch.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { readZip } from "../io/zip.ts";
import { datasetTensor, type H5File, withHdf5 } from "./hdf5.ts";
import {
  AUGMENTATION_LAYERS,
  isModelConfig,
  KerasFileError,
  type KerasLayerConfig,
  layerConfigName,
  translateKerasConfig,
} from "./keras_config.ts";
import { buildTopology } from "./keras_topology.ts";

/** config.json and metadata.json of real models are kilobytes; 64 MiB is far past any. */
const MAX_JSON_BYTES = 2 ** 26;
import { assignLayerWeights, type WeightProblems } from "./weights.ts";
import { notice } from "../_notice.ts";

/**
 * Keras's `naming.to_snake_case`: the name a class's instances get in a
 * `.keras` weights file (`Conv2D` → `conv2d`, `MaxPooling2D` →
 * `max_pooling2d`, `ReLU` → `re_lu`).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { kerasSnakeCase } from "./keras_v3.ts";
 * assertEquals(kerasSnakeCase("BatchNormalization"), "batch_normalization");
 * ```
 */
export function kerasSnakeCase(className: string): string {
  return className
    .replace(/\W+/g, "")
    .replace(/(.)([A-Z][a-z]+)/g, "$1_$2")
    .replace(/([a-z])([A-Z])/g, "$1_$2")
    .toLowerCase();
}

interface WeightWalk {
  file: H5File;
  label: string;
  /** `layers`, or `_layer_checkpoint_dependencies` in tf.keras 2.13 files. */
  container: string;
  problems: WeightProblems;
  /** Paths whose subtree a layer accounted for. */
  claimed: string[];
}

function childKeys(file: H5File, path: string): string[] {
  const node = file.get(path);
  return node?.keys ? node.keys() : [];
}

function readVars(walk: WeightWalk, path: string): tf.Tensor[] {
  const names = childKeys(walk.file, `${path}/vars`);
  // Variables are stored as "0", "1", … in the layer's creation order.
  const indices = names.map(Number).filter(Number.isInteger).sort((a, b) => a - b);
  if (indices.some((n, i) => n !== i)) {
    walk.problems.push(`${path}/vars has variables [${names}], not 0…${names.length - 1}`);
    return [];
  }
  return indices.map((i) => datasetTensor(walk.file, `${path}/vars/${i}`, walk.label));
}

function walkModel(
  walk: WeightWalk,
  config: KerasLayerConfig,
  model: tf.LayersModel,
  prefix: string,
): void {
  const used = new Map<string, number>();
  for (const layer of config.config.layers ?? []) {
    // Keras 3's Sequential.layers leaves out its InputLayer; Functional's keeps it.
    if (config.class_name === "Sequential" && layer.class_name === "InputLayer") continue;
    const base = kerasSnakeCase(layer.class_name);
    const count = used.has(base) ? used.get(base)! + 1 : 0;
    used.set(base, count);
    const path = `${prefix}${walk.container}/${count === 0 ? base : `${base}_${count}`}`;
    const name = layerConfigName(layer);
    const target = model.getLayer(name);
    if (isModelConfig(layer)) {
      walkModel(walk, layer, target as tf.LayersModel, `${path}/`);
      continue;
    }
    walk.claimed.push(path);
    // Augmentation layers keep only a random seed's state; identities need nothing.
    if (AUGMENTATION_LAYERS.includes(layer.class_name)) continue;
    const tensors = readVars(walk, path);
    try {
      if (tensors.length === 0 && target.weights.length > 0) {
        walk.problems.push(`"${name}" has no variables in the file (expected at ${path}/vars)`);
      } else {
        assignLayerWeights(target, `"${name}" (stored as ${path})`, tensors, walk.problems);
      }
    } finally {
      for (const t of tensors) t.dispose();
    }
  }
}

/** Every group under the layer container that holds variables. */
function storedVariableGroups(file: H5File, path: string, out: string[] = []): string[] {
  for (const key of childKeys(file, path)) {
    const child = `${path}/${key}`;
    if (key === "vars") {
      if (childKeys(file, child).length > 0) out.push(path);
    } else if (file.get(child)?.keys) storedVariableGroups(file, child, out);
  }
  return out;
}

function assignKeras3Weights(
  file: H5File,
  config: KerasLayerConfig,
  model: tf.LayersModel,
  label: string,
): void {
  const container = file.get("layers") || !file.get("_layer_checkpoint_dependencies")
    ? "layers"
    : "_layer_checkpoint_dependencies";
  const walk: WeightWalk = { file, label, container, problems: [], claimed: [] };
  walkModel(walk, config, model, "");
  for (const group of storedVariableGroups(file, container)) {
    if (!walk.claimed.some((c) => group === c || group.startsWith(`${c}/`))) {
      walk.problems.push(`the file has variables at ${group} that no layer of the model takes`);
    }
  }
  if (walk.problems.length > 0) {
    throw new KerasFileError(
      `${label}: weights do not match the model: ${walk.problems.join("; ")}`,
    );
  }
}

function parseJson(bytes: Uint8Array, what: string, label: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new KerasFileError(`${label}: ${what} is not valid JSON (${(error as Error).message})`);
  }
}

/**
 * Loads the bytes of a Keras 3 `.keras` archive as a tfjs `LayersModel`
 * (Sequential or Functional, nested models included).
 */
export async function loadKeras3(bytes: Uint8Array, label: string): Promise<tf.LayersModel> {
  // The config first: the weights file may only inflate to what it declares.
  const { files, names } = readZip(bytes, label, {
    only: (n) => n === "config.json" || n === "metadata.json",
    maxEntryBytes: () => MAX_JSON_BYTES,
  });
  const configBytes = files.get("config.json");
  if (!configBytes) {
    throw new KerasFileError(
      `${label}: a zip without config.json, so not a Keras .keras file (it holds: ${
        names.slice(0, 10).join(", ") || "nothing"
      })`,
    );
  }
  const config = parseJson(configBytes, "config.json", label);
  const metadata = files.has("metadata.json")
    ? parseJson(files.get("metadata.json")!, "metadata.json", label)
    : null;
  const version = (metadata as { keras_version?: unknown } | null)?.keras_version;
  if (!names.includes("model.weights.h5")) {
    throw new KerasFileError(
      names.includes("model.weights.npz")
        ? `${label}: weights stored as model.weights.npz; convscope reads the default model.weights.h5`
        : `${label}: no model.weights.h5 in the archive`,
    );
  }
  const { topology, notes } = translateKerasConfig(config, label);
  const model = await buildTopology(topology, typeof version === "string" ? version : "3", label);
  try {
    // float64 weights at most, plus HDF5's own structure.
    const declared = model.weights.reduce(
      (n, w) => n + (w.shape as number[]).reduce((a, b) => a * b, 1),
      0,
    );
    const weights = readZip(bytes, label, {
      only: (n) => n === "model.weights.h5",
      maxEntryBytes: () => 8 * declared + 2 ** 24,
    }).files.get("model.weights.h5")!;
    await withHdf5(
      weights,
      `${label}/model.weights.h5`,
      (file) => assignKeras3Weights(file, config as KerasLayerConfig, model, label),
    );
  } catch (error) {
    model.dispose();
    throw error;
  }
  if (notes.length > 0) await notice(`${label}: ${notes.join("; ")}`);
  return model;
}
