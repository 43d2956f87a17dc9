/**
 * Activation maximisation of dense and class outputs (keras-vis
 * `visualize_activation`, tf-keras-vis `ActivationMaximization`): the input
 * that makes one unit fire most, under regularisers and input modifiers.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { readBack } from "../backend/read_back.ts";
import type { AscentOptions } from "./ascent_options.ts";
import { modelInputRange } from "../models/metadata.ts";
import { linearize, outputActivation, outputLayer, withLinearOutput } from "../models/nested.ts";
import { resolveLayer, walkLayers } from "../models/layers.ts";
import { activationModel } from "./activations.ts";
import { TF_KERAS_VIS_DEFAULTS } from "./regularizers.ts";
import { SeededRandom } from "../data/random.ts";
import { ascend, pixelImages } from "./ascend.ts";
import { classScore } from "./scores.ts";
import { tfSeed } from "../backend/tf_seed.ts";

/**
 * Gradient ascent on the input for dense/class units, keeping the best image
 * seen rather than the last.
 *
 * @example
 * ```ts
 * import { initBackend, maximizeActivation, mnistConvnet } from "convscope";
 * await initBackend();
 * const { images, scores } = await maximizeActivation(mnistConvnet(), {
 *   classIndex: [0, 1, 2], inputRange: [0, 1], steps: 50,
 * });
 * console.log(images.shape, scores); // [3, 28, 28, 1] […]
 * ```
 */
export async function maximizeActivation(
  model: tf.LayersModel,
  options: AscentOptions & {
    /**
     * Class(es) to maximise, one image each: units of the output layer (a single
     * sigmoid unit counts as classes 0 and 1), or of `layer` (dense units, or
     * channels of a convolution, by their mean).
     */
    classIndex: number | readonly number[];
  },
): Promise<{
  /** `[n, h, w, c]`, the best input seen for each index (lowest loss). The caller disposes it. */
  images: tf.Tensor4D;
  /** The score (unit activation) of each returned image. */
  scores: number[];
  /** The step at which each returned image was reached. */
  bestStep: number[];
}> {
  const indices = typeof options.classIndex === "number"
    ? [options.classIndex]
    : [...options.classIndex];
  const layers = walkLayers(model);
  const target = options.layer ? resolveLayer(model, options.layer) : layers[layers.length - 1];
  const isOutput = target === layers[layers.length - 1] ||
    target.layer === layers[layers.length - 1].layer;
  const outShape = target.layer.outputShape as (number | null)[];
  const units = outShape[outShape.length - 1]!;
  // A classifier's single sigmoid unit stands for two classes, as everywhere
  // (classScore): class 1 climbs its logit, class 0 the logit's negation.
  const binary = isOutput && units === 1;
  for (const i of indices) {
    if (binary) classScore([0.5], i);
    else if (!Number.isInteger(i) || i < 0 || i >= units) {
      throw new Error(
        `classIndex ${i} is out of range: layer "${target.path}" has ${units} units (0–${
          units - 1
        })`,
      );
    }
  }
  const [lo, hi] = options.inputRange ?? modelInputRange(model) ?? TF_KERAS_VIS_DEFAULTS.inputRange;
  const regularizers = options.regularizers ?? TF_KERAS_VIS_DEFAULTS.regularizers;
  const modifiers = options.inputModifiers ?? TF_KERAS_VIS_DEFAULTS.inputModifiers;
  const steps = options.steps ?? TF_KERAS_VIS_DEFAULTS.steps;
  const inputShape = model.inputs[0].shape.slice(1).map((d) => d ?? 224) as number[];
  const n = indices.length;
  const random = new SeededRandom(options.seed ?? 0);
  const extractor = isOutput ? model : activationModel(model, [target.layer.name]);
  const linear = (options.linear ?? true) && isOutput && outputActivation(model) !== "linear";
  const mask = tf.tidy(() =>
    binary
      ? tf.tensor2d(indices.map((i) => [i === 1 ? 1 : -1]))
      : tf.oneHot(tf.tensor1d(indices, "int32"), units).toFloat()
  );
  const scoresOf = (input: tf.Tensor4D) => {
    const forward = () => {
      const out = extractor.apply(input, { training: false }) as tf.Tensor;
      const perUnit = out.rank === 4 ? tf.mean(out, [1, 2]) : out;
      return tf.sum(tf.mul(perUnit, mask), -1) as tf.Tensor1D;
    };
    return linear ? withLinearOutput(model, forward) : forward();
  };
  const start = tf.randomUniform([n, ...inputShape], lo, hi, "float32", tfSeed(options.seed ?? 0));
  const pixels = pixelImages(start as tf.Tensor4D);
  start.dispose();
  const [x] = pixels.variables;
  const optimizer = tf.train.rmsprop(
    options.learningRate ?? TF_KERAS_VIS_DEFAULTS.learningRate,
    0.999,
  );
  try {
    const { images, steps: bestStep } = await ascend(
      (input) => {
        let objective: tf.Tensor1D = scoresOf(input);
        for (const r of regularizers) objective = tf.sub(objective, r.apply(input));
        return objective;
      },
      pixels,
      {
        steps,
        optimizer,
        keepBest: true,
        signal: options.signal,
        progress: options.progress ? "maximize" : undefined,
        beforeStep: () => {
          if (modifiers.length === 0) return;
          const modified = tf.tidy(() =>
            modifiers.reduce<tf.Tensor4D>((t, m) => m.apply(t, random), x as tf.Tensor4D)
          );
          x.assign(modified);
          modified.dispose();
        },
        afterStep: () => {
          const clipped = tf.clipByValue(x, lo, hi);
          x.assign(clipped);
          clipped.dispose();
        },
        onStep: options.onStep,
      },
    );
    // The unit's own activation at the returned images, without the penalties.
    const scores = tf.tidy(() => scoresOf(images));
    const values = [...((await scores.data()) as Float32Array)];
    scores.dispose();
    // On webgpu the values come back to the CPU here, so figures can draw them.
    return { images: await readBack(images), scores: values, bestStep };
  } finally {
    optimizer.dispose();
    mask.dispose();
  }
}

/**
 * A copy of `model` whose final activation is linear (tf-keras-vis
 * `ReplaceToLinear`); the original model is not touched.
 *
 * @example
 * ```ts
 * import { initBackend, mnistConvnet, replaceToLinear } from "convscope";
 * await initBackend();
 * const model = mnistConvnet();
 * const linear = await replaceToLinear(model);
 * console.log(model.layers.at(-1)!.getConfig().activation, linear.layers.at(-1)!.getConfig().activation); // softmax linear
 * ```
 */
export async function replaceToLinear(model: tf.LayersModel): Promise<tf.LayersModel> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler((a) => {
    artifacts = a;
    return Promise.resolve({
      modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
    });
  }));
  const copy = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
  // The same swap withLinearOutput makes for a while, made for good on the copy.
  const last = outputLayer(copy);
  if (last) linearize(last);
  return copy;
}
