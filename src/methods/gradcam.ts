/**
 * Class activation heatmaps: Grad-CAM, Grad-CAM++ and LayerCAM (Deep
 * Learning with Python 5.4.3), for flat and nested models, softmax and
 * single-sigmoid outputs.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { readBack, readScalars } from "../backend/read_back.ts";
import { classScore } from "./scores.ts";
import { layerOutputShape, resolveLayer } from "../models/layers.ts";
import { asBatch } from "./activations.ts";
import { lastConvLayer, outputActivation, withLinearOutput, withProbe } from "../models/nested.ts";
import { notice } from "../_notice.ts";

/**
 * Where the model looked to decide: the class score's gradient at a
 * convolution's output, pooled per channel, weighs that output's channels;
 * the weighted sum's positive part, divided by its maximum, is the heatmap.
 *
 * @example
 * ```ts
 * import { gradCam, initBackend, loadBookModel, loadImage, tf } from "convscope";
 * await initBackend();
 * const model = await loadBookModel();
 * const image = await loadImage("notebooks/images/chelsea.png", { targetSize: [150, 150] });
 * const cam = await gradCam(model, tf.div(image, 255), { classNames: ["cat", "dog"] });
 * console.log(cam.className, cam.layer, cam.heatmap.shape); // cat conv2d_4 [15, 15]
 * ```
 */
export async function gradCam(
  model: tf.LayersModel,
  image: tf.Tensor,
  options: {
    /**
     * The class to explain; default the top prediction. For a single sigmoid
     * output, 1 is the positive class ("dog" for the book's model) and 0 the
     * negative one ("cat"), explained through the negated logit.
     */
    classIndex?: number;
    /** Layer name or path (`"base/block5_conv3"`); default the last convolution. */
    layer?: string;
    /** `"gradcam"` (default), `"gradcam++"` or `"layercam"`. */
    method?: "gradcam" | "gradcam++" | "layercam";
    /**
     * What is differentiated: `"logit"` (default; the pre-softmax score of the
     * Grad-CAM paper, which does not saturate) or `"probability"` (the book's
     * `model.output[:, 386]`).
     */
    score?: "logit" | "probability";
    /** Class names for the report, e.g. `["cat", "dog"]`. */
    classNames?: readonly string[];
  } = {},
): Promise<{
  /** `[h, w]` at the layer's resolution, values in [0, 1]. The caller disposes it. */
  heatmap: tf.Tensor2D;
  /** The class the map explains. */
  classIndex: number;
  /** Its name, when `classNames` were given (or "class N"). */
  className: string;
  /** The model's output for the image (probabilities). */
  prediction: number[];
  /** Path of the layer used. */
  layer: string;
  /** True when every weight or gradient was zero (the map is all zeros). */
  empty: boolean;
}> {
  const { layer, path } = options.layer ? resolveLayer(model, options.layer) : lastConvLayer(model);
  const shape = layerOutputShape(layer);
  if (shape.length !== 4) {
    throw new Error(
      `Layer "${path}" outputs [${shape}], not a 4-D feature map; Grad-CAM needs a convolution`,
    );
  }
  const batch = asBatch(model, image);
  try {
    const output = model.predict(batch) as tf.Tensor;
    const prediction = [...await output.data()];
    output.dispose();
    const activation = outputActivation(model);
    const { classIndex, binary: sigmoidBinary, score } = classScore(prediction, options.classIndex);
    const useLogit = (options.score ?? "logit") === "logit" || sigmoidBinary;
    const method = options.method ?? "gradcam";
    const cam = tf.tidy(() => {
      const { value: conv, grads } = gradientAtLayer(
        model,
        batch,
        layer,
        score,
        useLogit && activation !== "linear",
      );
      const map = combine(method, conv, grads);
      conv.dispose();
      return map.squeeze([0]) as tf.Tensor2D;
    });
    const [peak] = await readScalars(tf.max(cam));
    const empty = !(peak > 0) || !Number.isFinite(peak);
    const heatmap = tf.tidy(() => empty ? tf.zerosLike(cam) : tf.div(cam, peak)) as tf.Tensor2D;
    cam.dispose();
    await readBack(heatmap);
    const className = options.classNames?.[classIndex] ?? `class ${classIndex}`;
    if (empty) {
      void notice(
        `gradCam: the map for ${className} at ${path} is all zero (no positive evidence or vanishing gradients); returning zeros`,
      );
    }
    return { heatmap, classIndex, className, prediction, layer: path, empty };
  } finally {
    if (batch !== image) batch.dispose();
  }
}

/**
 * The layer's output for `batch` and the gradient of `score(model output)`
 * with respect to it. `value` outlives any enclosing `tf.tidy`: dispose it.
 */
export function gradientAtLayer(
  model: tf.LayersModel,
  batch: tf.Tensor,
  layer: tf.layers.Layer,
  score: (output: tf.Tensor) => tf.Scalar,
  linearOutput: boolean,
): { value: tf.Tensor4D; grads: tf.Tensor4D } {
  const run = () => {
    const shape = layerOutputShape(layer).slice(1) as number[];
    const probe = tf.zeros([batch.shape[0], ...shape]);
    let captured: tf.Tensor | undefined;
    const grads = tf.grad((p: tf.Tensor) =>
      withProbe(layer, p, (a, b) => tf.add(a, b), (recorded) => {
        const out = model.apply(batch, { training: false }) as tf.Tensor;
        if (!recorded.value) {
          throw new Error(`layer "${layer.name}" was not reached by the model's forward pass`);
        }
        captured = recorded.value;
        return score(out);
      }, tf.keep)
    )(probe);
    return { value: captured as tf.Tensor4D, grads: grads as tf.Tensor4D };
  };
  return linearOutput ? withLinearOutput(model, run) : run();
}

function combine(
  method: "gradcam" | "gradcam++" | "layercam",
  conv: tf.Tensor4D,
  grads: tf.Tensor4D,
): tf.Tensor3D {
  if (method === "layercam") {
    return tf.relu(tf.sum(tf.mul(tf.relu(grads), conv), -1)) as tf.Tensor3D;
  }
  if (method === "gradcam++") {
    // Chattopadhyay et al. with S = exp(score): the exp factors cancel in α.
    const second = tf.square(grads);
    const third = tf.mul(second, grads);
    const globalSum = tf.sum(conv, [1, 2], true);
    const denom = tf.add(tf.mul(second, 2), tf.mul(third, globalSum));
    const safeDenom = tf.where(tf.notEqual(denom, 0), denom, tf.onesLike(denom));
    let alphas = tf.div(second, safeDenom);
    const norm = tf.sum(alphas, [1, 2], true);
    alphas = tf.div(alphas, tf.where(tf.notEqual(norm, 0), norm, tf.onesLike(norm)));
    const weights = tf.sum(tf.mul(tf.relu(grads), alphas), [1, 2], true);
    return tf.relu(tf.sum(tf.mul(weights, conv), -1)) as tf.Tensor3D;
  }
  const weights = tf.mean(grads, [1, 2], true);
  return tf.relu(tf.sum(tf.mul(weights, conv), -1)) as tf.Tensor3D;
}
