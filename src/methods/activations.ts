/**
 * Intermediate activations: what each layer outputs for one input.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  isConvOrPool,
  layerOutput,
  layerOutputShape,
  type LayerPath,
  selectLayers,
  walkLayers,
} from "../models/layers.ts";
import { withCallHook } from "../models/nested.ts";
import { onCpuWhenNeeded, readBack } from "../backend/read_back.ts";

const cache = new WeakMap<tf.LayersModel, Map<string, tf.LayersModel>>();

/**
 * A model with the same input whose outputs are the chosen layers' outputs,
 * like `keras.Model(inputs=model.input, outputs=[l.output for l in layers])`.
 * Built once per model and layer set.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { activationModel, bookConvnet, initBackend } from "convscope";
 * await initBackend();
 * const model = bookConvnet();
 * const activations = activationModel(model, [0, 1, 2, 3, 4, 5, 6, 7]);
 * assertEquals(activations.outputs.length, 8);
 * ```
 */
export function activationModel(
  model: tf.LayersModel,
  layers?:
    | readonly (string | number)[]
    | ((layer: tf.layers.Layer, index: number) => boolean),
): tf.LayersModel {
  const chosen = selectLayers(model, layers);
  const key = chosen.map((l) => l.name).join("\u0000");
  let perModel = cache.get(model);
  if (!perModel) cache.set(model, perModel = new Map());
  let built = perModel.get(key);
  if (!built) {
    built = tf.model({
      inputs: model.inputs,
      outputs: chosen.map((l) => layerOutput(model, l)),
      name: `${model.name}_activations`,
    });
    perModel.set(key, built);
  }
  return built;
}

/** Adds a batch axis to a single image; checks the shape against the model's input. */
export function asBatch(model: tf.LayersModel, image: tf.Tensor): tf.Tensor {
  const expected = model.inputs[0].shape; // [null, h, w, c]
  const batch = image.rank === expected.length - 1 ? image.expandDims(0) : image;
  const ok = batch.rank === expected.length &&
    expected.slice(1).every((d, i) => d == null || d === batch.shape[i + 1]);
  if (!ok) {
    if (batch !== image) batch.dispose();
    throw new Error(
      `Input of shape [${image.shape}] does not fit model "${model.name}", which expects [${
        expected.map((d) => d ?? "batch")
      }]${
        expected.length === 4
          ? ` (load the image with targetSize: [${expected[1]}, ${expected[2]}])`
          : ""
      }`,
    );
  }
  return batch;
}

/**
 * Runs one image (`[h, w, c]` or `[1, h, w, c]`) through the model and
 * returns the chosen layers' outputs in layer order. The image is fed as is:
 * scale it the way the model was trained (the book's model wants `/ 255`).
 * By default every conv/pool layer; when they all sit inside a nested model
 * (a `keras.applications` base, a Sequential block), those, named by their
 * paths (`"base/block1_conv1"`).
 *
 * @example
 * ```ts
 * import { bookConvnet, getActivations, initBackend, loadImage } from "convscope";
 * await initBackend();
 * const image = await loadImage("notebooks/images/chelsea.png", { targetSize: [150, 150] });
 * const activations = await getActivations(bookConvnet(), image.div(255));
 * for (const a of activations) console.log(a.name, a.activation.shape);
 * // conv2d_1 [1, 148, 148, 32] … max_pooling2d_4 [1, 7, 7, 128]
 * ```
 */
export async function getActivations(
  model: tf.LayersModel,
  image: tf.Tensor,
  layers?:
    | readonly (string | number)[]
    | ((layer: tf.layers.Layer, index: number) => boolean),
): Promise<
  {
    /** Layer name. */
    name: string;
    /** Layer class, e.g. `Conv2D`. */
    className: string;
    /** The output tensor, batch first (e.g. `[1, 148, 148, 32]`). The caller disposes it. */
    activation: tf.Tensor;
  }[]
> {
  const found = activationsOf(model, image, layers);
  // On webgpu the values come back to the CPU here, so figures can draw them.
  await readBack(found.map((f) => f.activation));
  return found;
}

function activationsOf(
  model: tf.LayersModel,
  image: tf.Tensor,
  layers?:
    | readonly (string | number)[]
    | ((layer: tf.layers.Layer, index: number) => boolean),
): { name: string; className: string; activation: tf.Tensor }[] {
  if (layers === undefined && !model.layers.some(isConvOrPool)) {
    // The convolutions live inside a nested model (a keras.applications base,
    // a Sequential block): record their outputs during one forward pass.
    const nested = walkLayers(model).filter(({ layer }) =>
      isConvOrPool(layer) && layerOutputShape(layer).length === 4
    );
    if (nested.length > 0) return nestedActivations(model, image, nested);
  }
  const chosen = selectLayers(model, layers);
  const extractor = activationModel(model, chosen.map((l) => l.name));
  const outputs = tf.tidy(() => {
    const out = extractor.predict(asBatch(model, image));
    return Array.isArray(out) ? out : [out];
  });
  return chosen.map((layer, i) => ({
    name: layer.name,
    className: layer.getClassName(),
    activation: outputs[i],
  }));
}

/** `getActivations` for layers inside nested models, named by their paths (`"base/block1_conv1"`). */
function nestedActivations(
  model: tf.LayersModel,
  image: tf.Tensor,
  chosen: LayerPath[],
): { name: string; className: string; activation: tf.Tensor }[] {
  const recorded = new Map<tf.layers.Layer, tf.Tensor>();
  const batch = asBatch(model, image);
  try {
    withCallHook(chosen.map((c) => c.layer), (layer, out) => {
      // A layer called twice (shared) shows its last call.
      recorded.get(layer)?.dispose();
      recorded.set(layer, tf.keep(out.clone()));
      return out;
    }, () => tf.tidy(() => void model.apply(batch, { training: false })));
  } catch (error) {
    for (const t of recorded.values()) t.dispose();
    throw error;
  } finally {
    if (batch !== image) batch.dispose();
  }
  return chosen.map(({ layer, path }) => ({
    name: path,
    className: layer.getClassName(),
    activation: recorded.get(layer)!,
  }));
}

/**
 * The channels of a feature map that show the most: ranked by the spatial
 * standard deviation of their activation (a channel that is zero or constant
 * over the picture shows nothing). For choosing which single channels to draw
 * (the book draws channels 3 and 30 of its model, an edge and an eye detector;
 * another model's 3 and 30 may be blank).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { informativeChannels, initBackend, tf } from "convscope";
 * await initBackend();
 * const maps = tf.stack([tf.zeros([4, 4]), tf.randomNormal([4, 4]), tf.ones([4, 4])], -1).expandDims(0);
 * assertEquals(informativeChannels(maps as tf.Tensor4D, 1), [1]);
 * ```
 */
export function informativeChannels(activation: tf.Tensor4D, count = 2): number[] {
  const spread = onCpuWhenNeeded(() =>
    tf.tidy(() => {
      const mean = tf.mean(activation, [0, 1, 2], true);
      return tf.sqrt(tf.mean(tf.square(tf.sub(activation, mean)), [0, 1, 2])).dataSync();
    })
  );
  return [...spread.keys()]
    .filter((c) => spread[c] > 0)
    .sort((a, b) => spread[b] - spread[a] || a - b)
    .slice(0, count);
}
