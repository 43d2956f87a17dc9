/**
 * Copying weights read from a file into a layer, collecting every mismatch
 * instead of stopping at the first, so one error lists them all.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** Mismatches found so far, one sentence each. */
export type WeightProblems = string[];

/**
 * Sets `tensors` as the weights of `layer` when their count and shapes match;
 * otherwise records why not under `where` and leaves the layer untouched.
 */
export function assignLayerWeights(
  layer: tf.layers.Layer,
  where: string,
  tensors: tf.Tensor[],
  problems: WeightProblems,
): void {
  const expected = layer.weights;
  if (expected.length !== tensors.length) {
    problems.push(`${where}: the file has ${tensors.length} weights, the layer ${expected.length}`);
    return;
  }
  const bad = expected.findIndex((w, i) => w.shape.join() !== tensors[i].shape.join());
  if (bad >= 0) {
    problems.push(
      `${where} weight ${bad} (${expected[bad].originalName}): file [${
        tensors[bad].shape
      }], layer [${expected[bad].shape}]`,
    );
    return;
  }
  layer.setWeights(tensors);
}
