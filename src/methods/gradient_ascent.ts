/**
 * Pieces shared by the gradient-ascent methods: gradient normalisation,
 * seeded starting images, deprocessing for display, and running a batch in
 * chunks that fit the heap.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { tfSeed } from "../backend/tf_seed.ts";

/**
 * Normalises each sample's gradient on its own: `"rms"` divides by
 * `sqrt(mean(g²)) + 1e-5` (the book's 1st edition), `"l2"` by the L2 norm
 * (`tf.math.l2_normalize`, 2nd edition).
 *
 * @example
 * ```ts
 * import { initBackend, normalizeGradient, tf } from "convscope";
 * await initBackend();
 * const g = tf.tensor4d([3, 4], [1, 1, 1, 2]);
 * normalizeGradient(g, "l2").print(); // [0.6, 0.8]
 * ```
 */
export function normalizeGradient(
  gradient: tf.Tensor,
  method: "rms" | "l2" | "none" = "rms",
): tf.Tensor {
  if (method === "none") return gradient.clone();
  return tf.tidy(() => {
    const axes = gradient.shape.map((_, i) => i).slice(1);
    const squares = tf.square(gradient);
    if (method === "rms") {
      return tf.div(gradient, tf.add(tf.sqrt(tf.mean(squares, axes, true)), 1e-5));
    }
    // tf.math.l2_normalize: x / sqrt(max(sum(x²), 1e-12))
    return tf.mul(gradient, tf.rsqrt(tf.maximum(tf.sum(squares, axes, true), 1e-12)));
  });
}

/**
 * The book's starting image, grey noise `uniform(0, 1) * 20 + 128`, seeded per
 * image so that a picture does not depend on which batch it was computed in.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { initBackend } from "convscope";
 * import { noiseImage } from "./gradient_ascent.ts";
 * await initBackend();
 * const x = noiseImage([64, 64, 3], 7);
 * assertEquals(x.shape, [1, 64, 64, 3]);
 * ```
 */
export function noiseImage(
  shape: readonly number[],
  seed: number,
  options: { low?: number; high?: number } = {},
): tf.Tensor {
  const low = options.low ?? 128, high = options.high ?? 148;
  return tf.randomUniform([1, ...shape], low, high, "float32", tfSeed(seed));
}

/**
 * The book's `deprocess_image`: zero mean, std 0.1, centred on 0.5, clipped to
 * [0, 1], scaled to 0–255 and truncated to integers, per image.
 *
 * @example
 * ```ts
 * import { deprocessImage, initBackend, tf } from "convscope";
 * await initBackend();
 * const img = deprocessImage(tf.randomNormal([1, 8, 8, 3]));
 * console.log(img.dtype, img.shape); // int32 [1, 8, 8, 3]
 * ```
 */
export function deprocessImage(
  x: tf.Tensor,
  options: { scale?: number; center?: number } = {},
): tf.Tensor {
  const scale = options.scale ?? 0.1, center = options.center ?? 0.5;
  return tf.tidy(() => {
    const axes = x.shape.map((_, i) => i).slice(1);
    const { mean, variance } = tf.moments(x, axes, true);
    const unit = tf.add(
      tf.mul(tf.div(tf.sub(x, mean), tf.add(tf.sqrt(variance), 1e-5)), scale),
      center,
    );
    return tf.cast(tf.floor(tf.mul(tf.clipByValue(unit, 0, 1), 255)), "int32");
  });
}

/**
 * Runs `work` over `[0, total)` in consecutive chunks of at most `chunk`
 * items, concatenating the tensors it returns along axis 0.
 *
 * @example
 * ```ts
 * import { initBackend, tf } from "convscope";
 * import { inChunks } from "./gradient_ascent.ts";
 * await initBackend();
 * const out = await inChunks(5, 2, (start, end) => tf.range(start, end));
 * out.print(); // [0, 1, 2, 3, 4]
 * ```
 */
export async function inChunks(
  total: number,
  chunk: number,
  work: (start: number, end: number) => tf.Tensor | Promise<tf.Tensor>,
): Promise<tf.Tensor> {
  const parts: tf.Tensor[] = [];
  for (let start = 0; start < total; start += chunk) {
    parts.push(await work(start, Math.min(total, start + chunk)));
  }
  if (parts.length === 1) return parts[0];
  const joined = tf.concat(parts, 0);
  tf.dispose(parts);
  return joined;
}
