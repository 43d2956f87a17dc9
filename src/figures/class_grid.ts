/**
 * Class maximisation shown as a labelled grid (seed 004's "all classes"
 * figure).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { modelInputRange } from "../models/metadata.ts";
import { maximizeActivation } from "../methods/activation_maximization.ts";
import type { AscentOptions } from "../methods/ascent_options.ts";
import type { FigureOptions } from "../plot/figure_options.ts";
import { TF_KERAS_VIS_DEFAULTS } from "../methods/regularizers.ts";
import { imshow, matshow } from "../plot/matshow.ts";
import { type Figure, hstack } from "../plot/figure.ts";
import { onCpuWhenNeeded } from "../backend/read_back.ts";

/**
 * Maximises every listed class at once and shows the images in a labelled
 * grid (seed 004's "all classes" figure).
 *
 * @example
 * ```ts
 * import { classGrid, initBackend, loadModel } from "convscope";
 * await initBackend();
 * const model = await loadModel("models/mnist_cnn");
 * const fig = await classGrid(model, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], { inputRange: [0, 1] });
 * await fig.save("out/mnist_classes.png");
 * ```
 */
export async function classGrid(
  model: tf.LayersModel,
  classes: readonly number[],
  options: AscentOptions & FigureOptions & {
    /** Label of each class, e.g. digits or ImageNet names. */
    labels?: readonly string[];
  } = {},
): Promise<Figure> {
  const { images, scores } = await maximizeActivation(model, { ...options, classIndex: classes });
  const [lo, hi] = options.inputRange ?? modelInputRange(model) ?? TF_KERAS_VIS_DEFAULTS.inputRange;
  const size = options.size ?? 112;
  // Drawing reads values synchronously: on webgpu it runs on the cpu backend.
  const figures = onCpuWhenNeeded(() =>
    classes.map((c, i) => {
      const image = tf.tidy(() => {
        const one = tf.slice(images, [i, 0, 0, 0], [1, -1, -1, -1]).squeeze([0]);
        return one.shape[2] === 1 ? one : tf.div(tf.sub(one, lo), hi - lo);
      });
      const title = `${options.labels?.[c] ?? c}: score ${scores[i].toFixed(1)}`;
      const figure = image.shape[2] === 1
        ? matshow(image, { cmap: "gray", vmin: lo, vmax: hi, ticks: false, size, title })
        : imshow(image, { range: "0-1", size, title });
      image.dispose();
      return figure;
    })
  );
  images.dispose();
  return hstack(figures, { cols: options.cols ?? 5, gap: 8 });
}
