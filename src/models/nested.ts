/**
 * Layers inside nested models (a Functional model containing a Sequential or
 * an applications base), found and probed without rebuilding the model.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { isConv, layerOutputShape } from "./layers.ts";

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
 * import { bookConvnet, initBackend } from "convscope";
 * import { walkLayers } from "./nested.ts";
 * await initBackend();
 * console.log(walkLayers(bookConvnet()).map((l) => l.path).slice(0, 2)); // ["conv2d_1", "max_pooling2d_1"]
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
 * Finds a layer by name or path (`"base/block5_conv3"`), also inside nested
 * models; an unknown name lists the valid ones.
 *
 * @example
 * ```ts
 * import { bookConvnet, initBackend } from "convscope";
 * import { findLayerDeep } from "./nested.ts";
 * await initBackend();
 * console.log(findLayerDeep(bookConvnet(), "conv2d_4").path); // conv2d_4
 * ```
 */
export function findLayerDeep(model: tf.LayersModel, name: string): LayerPath {
  const all = walkLayers(model);
  const hit = all.find((l) => l.path === name) ?? all.find((l) => l.layer.name === name);
  if (!hit) {
    throw new Error(
      `No layer named "${name}" in model "${model.name}". Valid names: ${
        all.map((l) => l.path).join(", ")
      }`,
    );
  }
  return hit;
}

/**
 * The layer Grad-CAM should look at: the last convolution whose output is a
 * 4-D feature map (not a pooling or flatten layer), inside nested models too.
 *
 * @example
 * ```ts
 * import { bookConvnet, initBackend, lastConvLayer } from "convscope";
 * await initBackend();
 * console.log(lastConvLayer(bookConvnet()).path); // conv2d_4
 * ```
 */
export function lastConvLayer(model: tf.LayersModel): LayerPath {
  const convs = walkLayers(model).filter(({ layer }) => {
    const shape = layerOutputShape(layer);
    return isConv(layer) && Array.isArray(shape) && shape.length === 4;
  });
  if (convs.length === 0) {
    throw new Error(
      `Model "${model.name}" has no convolution layer with a 4-D output; pass layer explicitly`,
    );
  }
  return convs[convs.length - 1];
}

/**
 * Runs `fn` while `layer`'s output is replaced by `output + probe` and
 * recorded; the gradient with respect to `probe` is the gradient with
 * respect to the layer's output. The layer is restored afterwards. The
 * recorded value is kept past every `tf.tidy` (models dispose their
 * intermediate tensors): the caller disposes it.
 */
export function withProbe<T>(
  layer: tf.layers.Layer,
  probe: tf.Tensor,
  add: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
  fn: (recorded: { value?: tf.Tensor }) => T,
  keep: <X extends tf.Tensor>(x: X) => X,
): T {
  const target = layer as unknown as { call: (inputs: unknown, kwargs: unknown) => tf.Tensor };
  const original = target.call;
  const recorded: { value?: tf.Tensor } = {};
  target.call = function (this: unknown, inputs: unknown, kwargs: unknown) {
    const out = original.call(this, inputs, kwargs);
    recorded.value?.dispose();
    recorded.value = keep(out.clone());
    return add(out, probe);
  };
  try {
    return fn(recorded);
  } finally {
    target.call = original;
  }
}

/**
 * Runs `fn` with the model's final activation (softmax or sigmoid) replaced
 * by a linear one, like tf-keras-vis `ReplaceToLinear`; the model is
 * restored afterwards, so the caller's model is never changed.
 */
export function withLinearOutput<T>(model: tf.LayersModel, fn: () => T): T {
  const layers = walkLayers(model);
  const last = layers[layers.length - 1]?.layer;
  return last ? withLinearActivation(last, fn) : fn();
}

/**
 * Runs `fn` with `layer`'s activation replaced by a linear one (so its
 * pre-activation is what comes out), then restores it.
 */
export function withLinearActivation<T>(layer: tf.layers.Layer, fn: () => T): T {
  const target = layer as unknown as {
    activation?: { getClassName(): string; apply(x: tf.Tensor): tf.Tensor };
  };
  const activation = target.activation;
  if (!activation || activation.getClassName() === "linear") return fn();
  const linear = { getClassName: () => "linear", apply: (x: tf.Tensor) => x };
  target.activation = linear as typeof activation;
  try {
    return fn();
  } finally {
    target.activation = activation;
  }
}

/** The class name of the model's final activation (`"softmax"`, `"sigmoid"`, `"linear"` …). */
export function outputActivation(model: tf.LayersModel): string {
  const layers = walkLayers(model);
  const last = layers[layers.length - 1]?.layer as unknown as {
    activation?: { getClassName(): string };
  };
  return last?.activation?.getClassName() ?? "linear";
}

/** {@linkcode withLinearActivation} for several layers at once. */
export function withLinearActivations<T>(layers: readonly tf.layers.Layer[], fn: () => T): T {
  return layers.reduceRight<() => T>(
    (inner, layer) => () => withLinearActivation(layer, inner),
    fn,
  )();
}
