/**
 * Saliency maps: how much each input pixel moves the class score — vanilla
 * gradients and SmoothGrad.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { classScore } from "./scores.ts";
import { asBatch } from "./activations.ts";
import { outputActivation, withLinearOutput } from "../models/nested.ts";

/**
 * `|∂ score / ∂ input|`, max over colour channels, scaled to [0, 1]; with
 * `smoothSamples`, averaged over noisy copies of the input (SmoothGrad).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { initBackend, loadBookModel, loadImage, saliency, tf } from "convscope";
 * await initBackend();
 * const image = await loadImage("notebooks/images/chelsea.png", { targetSize: [150, 150] });
 * const map = saliency(await loadBookModel(), tf.div(image, 255), { smoothSamples: 20 });
 * assertEquals(map.shape, [150, 150]);
 * ```
 */
export function saliency(
  model: tf.LayersModel,
  image: tf.Tensor,
  options: {
    /** Class to explain; default the top prediction (for one sigmoid unit: 1 = positive, 0 = negative). */
    classIndex?: number;
    /** SmoothGrad samples; 0 (default) is the vanilla gradient. */
    smoothSamples?: number;
    /** SmoothGrad noise σ as a fraction of the input's value range. Default 0.2. */
    noise?: number;
    /** Seed of the SmoothGrad noise. Default 0. */
    seed?: number;
  } = {},
): tf.Tensor2D {
  const batch = asBatch(model, image);
  try {
    return tf.tidy(() => {
      const prediction = (model.predict(batch) as tf.Tensor).dataSync();
      const chosen = classScore(prediction, options.classIndex);
      const score = (x: tf.Tensor) =>
        chosen.score(model.apply(x, { training: false }) as tf.Tensor);
      const gradOf = (x: tf.Tensor) =>
        outputActivation(model) === "linear"
          ? tf.grad(score)(x)
          : withLinearOutput(model, () => tf.grad(score)(x));
      const samples = options.smoothSamples ?? 0;
      let grads: tf.Tensor;
      if (samples > 0) {
        const [lo, hi] = [tf.min(batch).dataSync()[0], tf.max(batch).dataSync()[0]];
        const sigma = (options.noise ?? 0.2) * (hi - lo);
        const seed = options.seed ?? 0;
        let sum: tf.Tensor = tf.zerosLike(batch);
        for (let i = 0; i < samples; i++) {
          const noisy = tf.add(batch, tf.randomNormal(batch.shape, 0, sigma, "float32", seed + i));
          const next = tf.add(sum, tf.abs(gradOf(noisy)));
          sum.dispose();
          sum = tf.keep(next);
        }
        grads = tf.div(sum, samples);
        sum.dispose();
      } else {
        grads = tf.abs(gradOf(batch));
      }
      const map = tf.max(grads, -1).squeeze([0]);
      const peak = tf.max(map).dataSync()[0];
      return (peak > 0 ? tf.div(map, peak) : tf.zerosLike(map)) as tf.Tensor2D;
    });
  } finally {
    if (batch !== image) batch.dispose();
  }
}
