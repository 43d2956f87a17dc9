/**
 * Saliency maps: how much each input pixel moves the class score — vanilla
 * gradients and SmoothGrad.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { readBack, readScalars } from "../backend/read_back.ts";
import { classScore } from "./scores.ts";
import { asBatch } from "./activations.ts";
import { outputActivation, withLinearOutput } from "../models/nested.ts";
import { tfSeed } from "../backend/tf_seed.ts";

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
 * const map = await saliency(await loadBookModel(), tf.div(image, 255), { smoothSamples: 20 });
 * assertEquals(map.shape, [150, 150]);
 * ```
 */
export async function saliency(
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
): Promise<tf.Tensor2D> {
  const batch = asBatch(model, image);
  try {
    const output = model.predict(batch) as tf.Tensor;
    const prediction = await output.data();
    output.dispose();
    const range = (options.smoothSamples ?? 0) > 0
      ? await readScalars(tf.min(batch), tf.max(batch))
      : [0, 0];
    const map = tf.tidy(() => {
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
        const sigma = (options.noise ?? 0.2) * (range[1] - range[0]);
        const seed = options.seed ?? 0;
        let sum: tf.Tensor = tf.zerosLike(batch);
        for (let i = 0; i < samples; i++) {
          const noisy = tf.add(
            batch,
            tf.randomNormal(batch.shape, 0, sigma, "float32", tfSeed(seed + i)),
          );
          const next = tf.add(sum, tf.abs(gradOf(noisy)));
          sum.dispose();
          sum = tf.keep(next);
        }
        grads = tf.div(sum, samples);
        sum.dispose();
      } else {
        grads = tf.abs(gradOf(batch));
      }
      return tf.max(grads, -1).squeeze([0]) as tf.Tensor2D;
    });
    const [peak] = await readScalars(tf.max(map));
    const normalized = tf.tidy(() =>
      peak > 0 ? tf.div(map, peak) : tf.zerosLike(map)
    ) as tf.Tensor2D;
    map.dispose();
    return await readBack(normalized);
  } finally {
    if (batch !== image) batch.dispose();
  }
}
