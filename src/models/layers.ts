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

/** A layer and the path of model names that leads to it. */
export interface LayerPath {
  /** The layer. */
  layer: tf.layers.Layer;
  /** e.g. `"vgg16/block5_conv3"`; just the name for top-level layers. */
  path: string;
}

function isModel(layer: tf.layers.Layer): layer is tf.LayersModel {
  return Array.isArray((layer as unknown as { layers?: unknown }).layers);
}

/**
 * Every layer of a model in execution order, descending into nested models.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { bookConvnet, initBackend } from "convscope";
 * import { walkLayers } from "./layers.ts";
 * await initBackend();
 * assertEquals(walkLayers(bookConvnet()).map((l) => l.path).slice(0, 2), ["conv2d_1", "max_pooling2d_1"]);
 * ```
 */
export function walkLayers(model: tf.LayersModel, prefix = ""): LayerPath[] {
  const out: LayerPath[] = [];
  for (const layer of model.layers) {
    const path = prefix + layer.name;
    if (isModel(layer)) out.push(...walkLayers(layer, `${path}/`));
    else out.push({ layer, path });
  }
  return out;
}

/**
 * The one layer resolver: a name (a top-level layer, or one inside nested
 * models, also as a path `"base/block5_conv3"`), an index into
 * `model.layers` (negative counts from the end), or a predicate over
 * `model.layers`. Throws an error listing the valid choices.
 *
 * @example
 * ```ts
 * import { bookConvnet, initBackend } from "convscope";
 * import { resolveLayer } from "./layers.ts";
 * await initBackend();
 * console.log(resolveLayer(bookConvnet(), -1).path); // dense_2
 * ```
 */
export function resolveLayer(model: tf.LayersModel, selector: LayerSelector): LayerPath {
  if (typeof selector === "string") {
    const top = model.layers.find((l) => l.name === selector);
    if (top) return { layer: top, path: top.name };
    const all = walkLayers(model);
    const hit = all.find((l) => l.path === selector) ?? all.find((l) => l.layer.name === selector);
    if (!hit) {
      throw new Error(
        `No layer named "${selector}" in model "${model.name}". Valid names: ${
          all.map((l) => l.path).join(", ")
        }`,
      );
    }
    return hit;
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
    return { layer: model.layers[index], path: model.layers[index].name };
  }
  const layer = model.layers.find((l, i) => selector(l, i));
  if (!layer) {
    throw new Error(`No layer of model "${model.name}" matches the predicate (${describe(model)})`);
  }
  return { layer, path: layer.name };
}

/**
 * A layer by name (nested models too), index or predicate, or an error
 * listing the valid names.
 *
 * @example
 * ```ts
 * import { bookConvnet, findLayer, initBackend } from "convscope";
 * await initBackend();
 * console.log(findLayer(bookConvnet(), "conv2d_2").name); // conv2d_2
 * ```
 */
export function findLayer(model: tf.LayersModel, selector: LayerSelector): tf.layers.Layer {
  return resolveLayer(model, selector).layer;
}

/**
 * Resolves a list of selectors (or one predicate, or the default: every
 * conv/pool layer) to layers in model order, without duplicates.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { bookConvnet, initBackend } from "convscope";
 * import { selectLayers } from "./layers.ts";
 * await initBackend();
 * assertEquals(selectLayers(bookConvnet()).length, 8);
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
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { bookConvnet, initBackend } from "convscope";
 * import { layerOutputShape } from "./layers.ts";
 * await initBackend();
 * assertEquals(layerOutputShape(bookConvnet().getLayer("conv2d_1")), [null, 148, 148, 32]);
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
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { bookConvnet, initBackend } from "convscope";
 * import { layerOutput } from "./layers.ts";
 * await initBackend();
 * const model = bookConvnet();
 * assertEquals(layerOutput(model, model.getLayer("conv2d_1")).shape, [null, 148, 148, 32]);
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
