/**
 * ImageNet's side of the chapter's Grad-CAM example (VGG16 on the elephant):
 * Keras' `preprocess_input` for VGG16 and `decode_predictions`, with the
 * 1,000 class names in ILSVRC-2012 order from `@tensorflow-models/mobilenet`
 * (Apache-2.0), the order Keras' `imagenet_class_index.json` uses.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { IMAGENET_CLASSES } from "@tensorflow-models/mobilenet/dist/imagenet_classes.js";

/** Keras' channel means for VGG16 ("caffe" mode), in BGR order. */
const CAFFE_MEAN_BGR = [103.939, 116.779, 123.68];

/**
 * Keras' `vgg16.preprocess_input`: RGB pixels 0–255 (`loadImage`'s output) to
 * BGR with ImageNet's channel means subtracted, not scaled. `[h, w, 3]` or
 * `[n, h, w, 3]`; a new tensor.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { initBackend, tf, vgg16Preprocess } from "convscope";
 * await initBackend();
 * const white = vgg16Preprocess(tf.fill([1, 1, 3], 255));
 * assertEquals([...white.dataSync()].map((v) => +v.toFixed(3)), [151.061, 138.221, 131.32]);
 * ```
 */
export function vgg16Preprocess(image: tf.Tensor): tf.Tensor {
  if (image.shape[image.rank - 1] !== 3) {
    throw new Error(`vgg16Preprocess needs RGB pixels [..., 3]; got shape [${image.shape}]`);
  }
  return tf.tidy(() => tf.sub(tf.reverse(image, -1), CAFFE_MEAN_BGR));
}

/**
 * Keras' `decode_predictions` for one picture: the `top` classes of a
 * 1,000-way ImageNet output, most probable first.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { decodePredictions } from "convscope";
 * const scores = new Float32Array(1000);
 * scores[386] = 0.9;
 * scores[101] = 0.08;
 * const [first, second] = decodePredictions(scores, 2);
 * assertEquals(first.name, "African elephant, Loxodonta africana");
 * assertEquals(second.classIndex, 101); // "tusker"
 * ```
 */
export function decodePredictions(
  prediction: tf.Tensor | ArrayLike<number>,
  top = 5,
): { classIndex: number; name: string; probability: number }[] {
  const values = prediction instanceof tf.Tensor ? prediction.dataSync() : prediction;
  if (values.length !== 1000) {
    throw new Error(
      `decodePredictions expects the 1,000 ImageNet scores of one picture; got ${values.length} values`,
    );
  }
  return [...Array(1000).keys()]
    .sort((a, b) => values[b] - values[a])
    .slice(0, top)
    .map((classIndex) => ({
      classIndex,
      name: (IMAGENET_CLASSES as Record<number, string>)[classIndex],
      probability: values[classIndex],
    }));
}
