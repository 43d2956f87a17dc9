/**
 * Which output a method explains or maximises, chosen one way everywhere
 * (tf-keras-vis's `CategoricalScore` and `BinaryScore`): the predicted
 * class unless one is given; a single sigmoid unit counts as two classes,
 * "1" scored by its logit and "0" by the logit's negation.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** A class of the model's output, and how to score it. */
export interface ClassScore {
  /** The class explained. */
  classIndex: number;
  /** How many classes the output has (2 for one sigmoid unit). */
  classes: number;
  /** Whether the output is one sigmoid unit standing for two classes. */
  binary: boolean;
  /** The class's score summed over the batch, from the model's output `[batch, units]`; differentiable. */
  score(output: tf.Tensor): tf.Scalar;
}

/**
 * Chooses the class for `prediction` (the model's output for one picture):
 * `classIndex` if given, else the most probable class; throws, naming the
 * range, when `classIndex` is not a class of this output.
 *
 * @example
 * ```ts
 * import { initBackend, tf } from "convscope";
 * import { classScore } from "./scores.ts";
 * await initBackend();
 * const cat = classScore([0.2], 0); // one sigmoid unit: P(dog) = 0.2
 * console.log(cat.classes, cat.score(tf.tensor2d([[1.5]])).dataSync()[0]); // 2 -1.5
 * ```
 */
export function classScore(prediction: ArrayLike<number>, classIndex?: number): ClassScore {
  const values = Array.from(prediction);
  const binary = values.length === 1;
  const classes = binary ? 2 : values.length;
  const chosen = classIndex ??
    (binary ? (values[0] > 0.5 ? 1 : 0) : values.indexOf(Math.max(...values)));
  if (!Number.isInteger(chosen) || chosen < 0 || chosen >= classes) {
    throw new Error(
      `classIndex ${chosen} is out of range: the model has ${classes} classes (0–${classes - 1})`,
    );
  }
  return {
    classIndex: chosen,
    classes,
    binary,
    score: (output) =>
      tf.tidy(() => {
        const column = tf.slice(output, [0, binary ? 0 : chosen], [-1, 1]);
        return tf.sum(binary && chosen === 0 ? tf.neg(column) : column) as tf.Scalar;
      }),
  };
}
