/**
 * The small composable pieces of activation maximisation (tf-keras-vis
 * style): regularisers that penalise an input, and input modifiers that
 * perturb it between steps.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { SeededRandom } from "../data/random.ts";

/** A penalty per image: `[n, h, w, c]` → `[n]`, added to the negated score. */
export interface Regularizer {
  /** Shown in progress output. */
  name: string;
  /** The penalty of each image. */
  apply(x: tf.Tensor4D): tf.Tensor1D;
}

/** Perturbs the input before each step (not differentiated through). */
export interface InputModifier {
  /** Shown in docs and errors. */
  name: string;
  /** A new, modified batch. */
  apply(x: tf.Tensor4D, random: SeededRandom): tf.Tensor4D;
}

/**
 * Total variation, normalised by the image size: tf-keras-vis
 * `TotalVariation2D(weight)` (`tf.image.total_variation / prod(shape[1:]) * weight`).
 *
 * @example
 * ```ts
 * import { initBackend, tf, totalVariation } from "convscope";
 * await initBackend();
 * totalVariation(1).apply(tf.zeros([1, 4, 4, 3])).print(); // [0]
 * ```
 */
export function totalVariation(weight = 10): Regularizer {
  return {
    name: "TotalVariation",
    apply: (x) =>
      tf.tidy(() => {
        const [, h, w, c] = x.shape;
        const dy = tf.abs(
          tf.sub(
            tf.slice(x, [0, 1, 0, 0], [-1, h - 1, -1, -1]),
            tf.slice(x, [0, 0, 0, 0], [-1, h - 1, -1, -1]),
          ),
        );
        const dx = tf.abs(
          tf.sub(
            tf.slice(x, [0, 0, 1, 0], [-1, -1, w - 1, -1]),
            tf.slice(x, [0, 0, 0, 0], [-1, -1, w - 1, -1]),
          ),
        );
        const tv = tf.add(tf.sum(dy, [1, 2, 3]), tf.sum(dx, [1, 2, 3]));
        return tf.mul(tf.div(tv, h * w * c), weight) as tf.Tensor1D;
      }),
  };
}

/**
 * The Lp norm normalised by size: tf-keras-vis `Norm(weight, p)`
 * (`‖x‖_p / n^(1/p) * weight`).
 *
 * @example
 * ```ts
 * import { initBackend, lpNorm, tf } from "convscope";
 * await initBackend();
 * lpNorm(1, 2).apply(tf.ones([1, 2, 2, 1])).print(); // [1]
 * ```
 */
export function lpNorm(weight = 10, p = 2): Regularizer {
  return {
    name: `L${p}Norm`,
    apply: (x) =>
      tf.tidy(() => {
        const n = x.size / x.shape[0];
        const norm = tf.pow(tf.sum(tf.pow(tf.abs(x), p), [1, 2, 3]), 1 / p);
        return tf.mul(tf.div(norm, n ** (1 / p)), weight) as tf.Tensor1D;
      }),
  };
}

/** Rolls a batch along height and width (`tf.roll`). */
function roll(x: tf.Tensor4D, dy: number, dx: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    const sy = ((dy % h) + h) % h, sx = ((dx % w) + w) % w;
    let out: tf.Tensor4D = x;
    if (sy) {
      out = tf.concat([
        tf.slice(out, [0, h - sy, 0, 0], [-1, sy, -1, -1]),
        tf.slice(out, [0, 0, 0, 0], [-1, h - sy, -1, -1]),
      ], 1);
    }
    if (sx) {
      out = tf.concat([
        tf.slice(out, [0, 0, w - sx, 0], [-1, -1, sx, -1]),
        tf.slice(out, [0, 0, 0, 0], [-1, -1, w - sx, -1]),
      ], 2);
    }
    return out === x ? x.clone() : out;
  });
}

/**
 * Rolls the image by a random offset in [−jitter, jitter) pixels each step
 * (tf-keras-vis `Jitter`; a value below 1 is a fraction of the size).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { initBackend, jitter, SeededRandom, tf } from "convscope";
 * await initBackend();
 * assertEquals(jitter(4).apply(tf.zeros([1, 8, 8, 1]), new SeededRandom(0)).shape, [1, 8, 8, 1]);
 * ```
 */
export function jitter(pixels = 8): InputModifier {
  return {
    name: "Jitter",
    apply: (x, random) => {
      const [, h, w] = x.shape;
      const jy = pixels < 1 ? Math.round(pixels * h) : pixels;
      const jx = pixels < 1 ? Math.round(pixels * w) : pixels;
      return roll(x, Math.floor(random.uniform(-jy, jy)), Math.floor(random.uniform(-jx, jx)));
    },
  };
}

/**
 * Rotates by a random angle in ±degrees about the centre (tf-keras-vis `Rotate2D`).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { initBackend, rotate, SeededRandom, tf } from "convscope";
 * await initBackend();
 * assertEquals(rotate(10).apply(tf.zeros([1, 8, 8, 3]), new SeededRandom(0)).shape, [1, 8, 8, 3]);
 * ```
 */
export function rotate(degrees = 3): InputModifier {
  return {
    name: "Rotate2D",
    apply: (x, random) =>
      tf.tidy(() => {
        const radians = (random.uniform(-degrees, degrees) * Math.PI) / 180;
        // The corners are filled with the mean: rotating x − mean with 0 and
        // adding the mean back does that without reading the mean out (a
        // synchronous read stalls every step, and webgpu cannot do one).
        const mean = tf.mean(x);
        const c = x.shape[3];
        const centred = tf.sub(x, mean);
        // rotateWithOffset wants 3 or 4 channels.
        const padded = c === 1 ? tf.tile(centred, [1, 1, 1, 3]) : centred;
        const turned = tf.image.rotateWithOffset(padded as tf.Tensor4D, radians, 0);
        const sliced = c === 1 ? tf.slice(turned, [0, 0, 0, 0], [-1, -1, -1, 1]) : turned;
        return tf.add(sliced, mean) as tf.Tensor4D;
      }),
  };
}

/**
 * Zooms by a random factor in [low, high], keeping the size (crop or pad
 * with the mean), like tf-keras-vis `Scale`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { initBackend, scale, SeededRandom, tf } from "convscope";
 * await initBackend();
 * assertEquals(scale().apply(tf.zeros([1, 8, 8, 3]), new SeededRandom(0)).shape, [1, 8, 8, 3]);
 * ```
 */
export function scale(low = 0.9, high = 1.1): InputModifier {
  return {
    name: "Scale",
    apply: (x, random) =>
      tf.tidy(() => {
        const [, h, w] = x.shape;
        const f = random.uniform(low, high);
        const nh = Math.max(1, Math.round(h * f)), nw = Math.max(1, Math.round(w * f));
        const resized = tf.image.resizeBilinear(x, [nh, nw]);
        if (f >= 1) {
          const top = Math.floor((nh - h) / 2), left = Math.floor((nw - w) / 2);
          return tf.slice(resized, [0, top, left, 0], [-1, h, w, -1]) as tf.Tensor4D;
        }
        // Padding with the mean, without reading it out (see `rotate`).
        const mean = tf.mean(x);
        const top = Math.floor((h - nh) / 2), left = Math.floor((w - nw) / 2);
        const padded = tf.pad(
          tf.sub(resized, mean),
          [[0, 0], [top, h - nh - top], [left, w - nw - left], [0, 0]],
        );
        return tf.add(padded, mean) as tf.Tensor4D;
      }),
  };
}

/**
 * tf-keras-vis's `ActivationMaximization.__call__` defaults: regularisers
 * `TotalVariation2D(1.0)` + `Norm(0.3, p=1)`, modifiers `Jitter(4)` +
 * `Rotate2D(1)`, RMSprop(1.0, ρ = 0.999), 200 steps, input range 0–255.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { TF_KERAS_VIS_DEFAULTS } from "./regularizers.ts";
 * assertEquals(TF_KERAS_VIS_DEFAULTS.steps, 200);
 * ```
 */
export const TF_KERAS_VIS_DEFAULTS: {
  regularizers: Regularizer[];
  inputModifiers: InputModifier[];
  steps: number;
  learningRate: number;
  inputRange: [number, number];
} = {
  regularizers: [totalVariation(1.0), lpNorm(0.3, 1)],
  inputModifiers: [jitter(4), rotate(1)],
  steps: 200,
  learningRate: 1.0,
  inputRange: [0, 255],
};
