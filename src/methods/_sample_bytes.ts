/**
 * What one sample of a batched ascent costs in memory, from a model's layer
 * shapes (probed once for fully convolutional models).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { layerOutput, layerOutputShape } from "../models/layers.ts";
import { bytesForShapes, largestTensorBytes } from "../backend/memory.ts";

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
 * What one input sample costs up to (and including) `layer`: `bytes` for a
 * forward and backward pass (every intermediate output kept for the backward
 * pass, its gradient, and convolution scratch: transposed and padded copies),
 * and its largest single tensor (what one WebGPU binding must hold).
 */
export function sampleFootprint(
  model: tf.LayersModel,
  layer: tf.layers.Layer,
  inputSize?: readonly [number, number],
): { bytes: number; largestTensorBytes: number } {
  const [, h, w, c] = model.inputs[0].shape;
  const [height, width] = inputSize ?? [h ?? 224, w ?? 224];
  const input = [height, width, c ?? 3];
  const shapes = shapesUpTo(model, layer, inputSize);
  return {
    bytes: bytesForShapes(input, shapes),
    largestTensorBytes: largestTensorBytes(input, shapes),
  };
}
