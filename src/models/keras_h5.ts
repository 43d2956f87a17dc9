/**
 * Keras 2 HDF5 files: full models (`model.save("x.h5")`) and weights-only
 * files (`save_weights`, the keras.applications downloads).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { readSource, type Source } from "../io/source.ts";
import { attrList, attrText, datasetTensor, type H5File, type H5Node, withHdf5 } from "./hdf5.ts";
import { buildTopology } from "./keras_topology.ts";
import { KerasFileError, translateKerasConfig } from "./keras_config.ts";
import { assignLayerWeights, type WeightProblems } from "./weights.ts";
import { notice } from "../_notice.ts";

function readWeightsByLayer(
  root: H5Node,
  file: H5File,
  prefix: string,
  label: string,
): Map<string, tf.Tensor[]> {
  const layerNames = attrList(root, "layer_names");
  if (layerNames.length === 0) {
    throw new KerasFileError(`${label}: no "layer_names" attribute: not a Keras weights file`);
  }
  const out = new Map<string, tf.Tensor[]>();
  try {
    for (const layerName of layerNames) {
      const group = file.get(`${prefix}${layerName}`);
      if (!group) {
        throw new KerasFileError(
          `${label}: layer "${layerName}" is listed but has no weight group`,
        );
      }
      const tensors: tf.Tensor[] = [];
      out.set(layerName, tensors);
      for (const weightName of attrList(group, "weight_names")) {
        tensors.push(datasetTensor(file, `${prefix}${layerName}/${weightName}`, label));
      }
    }
  } catch (error) {
    for (const tensors of out.values()) for (const t of tensors) t.dispose();
    throw error;
  }
  return out;
}

/** Copies weights into the model's layers of the same names; every mismatch is listed. */
function assignByName(
  model: tf.LayersModel,
  weights: Map<string, tf.Tensor[]>,
  label: string,
): void {
  const problems: WeightProblems = [];
  const layers = new Map(model.layers.map((l) => [l.name, l]));
  try {
    for (const [name, tensors] of weights) {
      const layer = layers.get(name);
      if (!layer) {
        if (tensors.length > 0) problems.push(`"${name}" is in the file but not in the model`);
        continue;
      }
      assignLayerWeights(layer, `"${name}"`, tensors, problems);
    }
    for (const layer of model.layers) {
      if (layer.getWeights().length > 0 && !weights.has(layer.name)) {
        problems.push(`"${layer.name}" has no weights in the file`);
      }
    }
  } finally {
    for (const tensors of weights.values()) for (const t of tensors) t.dispose();
  }
  if (problems.length > 0) {
    throw new KerasFileError(`${label}: weights do not match the model: ${problems.join("; ")}`);
  }
}

/**
 * Loads Keras 2 full-model HDF5 bytes: both config styles (the old bare list
 * of layers and `{name, layers}`), Sequential and Functional.
 */
export async function loadKeras2Hdf5(bytes: Uint8Array, label: string): Promise<tf.LayersModel> {
  return await withHdf5(bytes, label, async (file) => {
    const text = attrText(file, "model_config");
    if (!text) {
      throw new KerasFileError(
        `${label}: no "model_config" attribute: a weights-only file? Build the model in TypeScript and use loadKerasWeights`,
      );
    }
    let config: unknown;
    try {
      config = JSON.parse(text);
    } catch (error) {
      throw new KerasFileError(
        `${label}: model_config is not valid JSON (${(error as Error).message})`,
      );
    }
    const { topology, notes } = translateKerasConfig(config, label);
    const model = await buildTopology(topology, attrText(file, "keras_version") ?? "2", label);
    try {
      const root = file.get("model_weights");
      if (!root) throw new KerasFileError(`${label}: no "model_weights" group`);
      assignByName(model, readWeightsByLayer(root, file, "model_weights/", label), label);
    } catch (error) {
      model.dispose();
      throw error;
    }
    if (notes.length > 0) await notice(`${label}: ${notes.join("; ")}`);
    return model;
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
 * // keras.applications' ImageNet weights, downloaded once from Keras' site.
 * const file = "vgg16_weights_tf_dim_ordering_tf_kernels.h5";
 * if (await Deno.stat(file).then(() => true, () => false)) await loadKerasWeights(model, file);
 * ```
 */
export async function loadKerasWeights(
  model: tf.LayersModel,
  source: Source,
): Promise<tf.LayersModel> {
  const { bytes, label } = await readSource(source);
  await withHdf5(bytes, label, (file) => {
    const root = file.get("model_weights") ?? file;
    const prefix = file.get("model_weights") ? "model_weights/" : "";
    assignByName(model, readWeightsByLayer(root, file, prefix, label), label);
  });
  return model;
}
