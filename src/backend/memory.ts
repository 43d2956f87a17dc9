/**
 * Fitting batched work into the WASM heap (4 GiB at most): estimate what one
 * sample costs and split a batch into chunks that fit.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { layerOutput, layerOutputShape } from "../models/layers.ts";

/** Bytes the wasm32 heap can grow to. */
export const WASM_HEAP_LIMIT = 4 * 1024 ** 3;

const probed = new WeakMap<tf.LayersModel, Map<string, number[][]>>();

/** Output shapes (without batch) of `model.layers` up to `layer`, for an input of `inputSize`. */
function shapesUpTo(
  model: tf.LayersModel,
  layer: tf.layers.Layer,
  inputSize?: readonly [number, number],
): number[][] {
  const stop = model.layers.indexOf(layer);
  const upto = (stop < 0 ? model.layers : model.layers.slice(0, stop + 1))
    .filter((l) => l.getClassName() !== "InputLayer");
  const declared = upto.map((l) =>
    layerOutputShape(l)
      .slice(1)
  );
  if (declared.every((s) => s.every((d) => d != null))) return declared as number[][];
  // Spatial sizes are open (a fully convolutional model): run one zero sample to learn them, once.
  const [, h, w, c] = model.inputs[0].shape;
  const [height, width] = inputSize ?? [h ?? 224, w ?? 224];
  const key = `${layer.name}@${height}x${width}`;
  let known = probed.get(model);
  if (!known) probed.set(model, known = new Map());
  const hit = known.get(key);
  if (hit) return hit;
  const probe = tf.model({
    inputs: model.inputs,
    outputs: upto.map((l) => layerOutput(model, l)),
  });
  const shapes = tf.tidy(() => {
    const out = probe.predict(tf.zeros([1, height, width, c ?? 3]));
    return (Array.isArray(out) ? out : [out]).map((t) => t.shape.slice(1));
  });
  known.set(key, shapes);
  return shapes;
}

/**
 * Bytes one input sample needs for a forward and backward pass up to (and
 * including) `layer`: every intermediate output kept for the backward pass,
 * its gradient, and convolution scratch (transposed and padded copies).
 *
 * @example
 * ```ts
 * import { bookConvnet, bytesPerSample, initBackend } from "convscope";
 * await initBackend();
 * const model = bookConvnet();
 * console.log(bytesPerSample(model, model.getLayer("conv2d_4")) > 1e6); // true
 * ```
 */
export function bytesPerSample(
  model: tf.LayersModel,
  layer: tf.layers.Layer,
  inputSize?: readonly [number, number],
): number {
  const [, h, w, c] = model.inputs[0].shape;
  const [height, width] = inputSize ?? [h ?? 224, w ?? 224];
  return bytesForShapes([height, width, c ?? 3], shapesUpTo(model, layer, inputSize));
}

/**
 * {@linkcode bytesPerSample} from known shapes: the input's and every
 * layer output's, without the batch axis.
 *
 * @example
 * ```ts
 * import { bytesForShapes } from "convscope";
 * console.log(bytesForShapes([64, 64, 3], [[62, 62, 32]]) > 0); // true
 * ```
 */
export function bytesForShapes(
  input: readonly number[],
  shapes: readonly (readonly number[])[],
): number {
  const sizes = shapes.map((s) => s.reduce((a, d) => a * d, 1));
  const floats = sizes.reduce((a, b) => a + b, input.reduce((a, d) => a * d, 1));
  const largest = Math.max(0, ...sizes);
  // Measured on VGG16 at 150²: tfjs keeps pre- and post-activation maps for
  // the backward pass, and the ReLU and pooling gradients and the padded,
  // dilated copies of the convolution gradient each make full-size
  // temporaries; about six floats per activation value in all.
  return 4 * 6 * (floats + largest);
}

/**
 * The largest batch (≤ `wanted`) whose pass fits a budget of the heap that
 * is still free (half of it, at most 1.5 GiB).
 *
 * @example
 * ```ts
 * import { largestFittingBatch } from "convscope";
 * console.log(largestFittingBatch(64, 100e6)); // 64 or fewer, never below 1
 * ```
 */
export function largestFittingBatch(wanted: number, bytesEach: number): number {
  const used = tf.memory().numBytes;
  // Keep most of the heap free: fragmentation and other work need room, and
  // bigger chunks are no faster per image once a pass is a few images large.
  const budget = Math.min(1.5 * 1024 ** 3, (WASM_HEAP_LIMIT - used) * 0.5);
  return Math.max(1, Math.min(wanted, Math.floor(budget / Math.max(1, bytesEach))));
}
