/**
 * Finding layers by name, index or predicate, with errors that list the
 * choices.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** A layer given by name, by index in `model.layers`, or by a test. */
export type LayerSelector = string | number | ((layer: tf.layers.Layer, index: number) => boolean);

/** Class names of layers whose outputs are feature maps worth tiling. */
export function isConvOrPool(layer: tf.layers.Layer): boolean {
  const cls = layer.getClassName();
  return /^(Conv2D|SeparableConv2D|DepthwiseConv2D|Conv2DTranspose|MaxPooling2D|AveragePooling2D)$/
    .test(cls);
}

/** Whether a layer is a convolution (not pooling). */
export function isConv(layer: tf.layers.Layer): boolean {
  return /^(Conv2D|SeparableConv2D|DepthwiseConv2D|Conv2DTranspose)$/.test(layer.getClassName());
}

function describe(model: tf.LayersModel): string {
  return model.layers.map((l, i) => `${i}: ${l.name} (${l.getClassName()})`).join(", ");
}

/**
 * Resolves one selector to a layer, or throws an error listing the valid names.
 *
 * @example
 * ```ts
 * import { bookConvnet, findLayer } from "convscope";
 * console.log(findLayer(bookConvnet(), "conv2d_2").name); // conv2d_2
 * ```
 */
export function findLayer(model: tf.LayersModel, selector: LayerSelector): tf.layers.Layer {
  if (typeof selector === "string") {
    const layer = model.layers.find((l) => l.name === selector);
    if (!layer) {
      throw new Error(
        `No layer named "${selector}" in model "${model.name}". Valid names: ${
          model.layers.map((l) => l.name).join(", ")
        }`,
      );
    }
    return layer;
  }
  if (typeof selector === "number") {
    const n = model.layers.length;
    const index = selector < 0 ? n + selector : selector;
    if (!Number.isInteger(selector) || index < 0 || index >= n) {
      throw new Error(
        `Layer index ${selector} is out of range: model "${model.name}" has ${n} layers (${
          describe(model)
        })`,
      );
    }
    return model.layers[index];
  }
  const layer = model.layers.find((l, i) => selector(l, i));
  if (!layer) {
    throw new Error(`No layer of model "${model.name}" matches the predicate (${describe(model)})`);
  }
  return layer;
}

/**
 * Resolves a list of selectors (or one predicate, or the default: every
 * conv/pool layer) to layers in model order, without duplicates.
 *
 * @example
 * ```ts
 * import { bookConvnet } from "convscope";
 * import { selectLayers } from "./layers.ts";
 * console.log(selectLayers(bookConvnet()).length); // 8
 * ```
 */
export function selectLayers(
  model: tf.LayersModel,
  layers?: readonly (string | number)[] | ((layer: tf.layers.Layer, index: number) => boolean),
): tf.layers.Layer[] {
  let chosen: tf.layers.Layer[];
  if (layers === undefined) chosen = model.layers.filter(isConvOrPool);
  else if (typeof layers === "function") chosen = model.layers.filter(layers);
  else chosen = layers.map((s) => findLayer(model, s));
  const order = new Map(model.layers.map((l, i) => [l, i]));
  const unique = [...new Set(chosen)].sort((a, b) => order.get(a)! - order.get(b)!);
  if (unique.length === 0) {
    throw new Error(`No layers selected from model "${model.name}" (${describe(model)})`);
  }
  return unique;
}

/**
 * A layer's output shape in the model it was built in. `layer.outputShape`
 * throws once a layer has been applied again at another size (as filter
 * patterns do for fixed-size Sequential models); the first node is the
 * original model's.
 *
 * @example
 * ```ts
 * import { bookConvnet, initBackend } from "convscope";
 * import { layerOutputShape } from "./layers.ts";
 * await initBackend();
 * console.log(layerOutputShape(bookConvnet().getLayer("conv2d_1"))); // [null, 148, 148, 32]
 * ```
 */
export function layerOutputShape(layer: tf.layers.Layer): (number | null)[] {
  try {
    const shape = layer.outputShape;
    return (Array.isArray(shape[0]) ? shape[0] : shape) as (number | null)[];
  } catch {
    return (layer.getOutputAt(0) as tf.SymbolicTensor).shape;
  }
}

/**
 * A layer's output tensor in `model`'s own graph. `layer.output` is
 * ill-defined once a layer has several nodes: a nested model's node 0 is
 * its internal input→output node, and a re-applied layer has one node per
 * call; the node whose inputs come from `model`'s layers is the one wanted.
 *
 * @example
 * ```ts
 * import { bookConvnet } from "convscope";
 * import { layerOutput } from "./layers.ts";
 * const model = bookConvnet();
 * console.log(layerOutput(model, model.getLayer("conv2d_1")).shape); // [null, 148, 148, 32]
 * ```
 */
export function layerOutput(model: tf.LayersModel, layer: tf.layers.Layer): tf.SymbolicTensor {
  const members = new Set(model.layers);
  const index = layer.inboundNodes.findIndex((node) =>
    node.inboundLayers.length > 0
      ? node.inboundLayers.every((l) => members.has(l))
      : layer.getClassName() === "InputLayer"
  );
  return layer.getOutputAt(Math.max(index, 0)) as tf.SymbolicTensor;
}
