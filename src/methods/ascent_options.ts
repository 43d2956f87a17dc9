/**
 * The options every gradient ascent in input space understands: the book's
 * filter patterns, Lucid's recipe and class maximisation. A name means the
 * same thing in each; an option one method has no use for is ignored.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { InputModifier, Regularizer } from "./regularizers.ts";

/** How a gradient ascent in input space runs (filter patterns, class maximisation). */
export interface AscentOptions {
  /** Side of the square image that is optimised, pixels. Default 150 (the book's single pattern). */
  inputSize?: number;
  /** Ascent steps. Default 40. */
  steps?: number;
  /**
   * Step size (the book's `step`, 2nd edition's learning rate 10). Default:
   * one pixel level, i.e. 1 for `inputRange` [0, 255] as in the book, 1/255
   * for [0, 1]; 0.05 with `"fourier"`.
   */
  stepSize?: number;
  /** Gradient normalisation: `"rms"` (1st ed., default), `"l2"` (2nd ed.) or `"none"`. */
  gradientNormalization?: "rms" | "l2" | "none";
  /** Seed of the start noise (each filter gets its own stream) and of the input modifiers. Default 0. */
  seed?: number;
  /**
   * Starting noise range, in the model's input units. Default: the book's
   * `random * 20 + 128` scaled into `inputRange` (`[128, 148]` for [0, 255]).
   */
  initRange?: readonly [number, number];
  /** A starting image `[size, size, c]` instead of noise. */
  init?: tf.Tensor;
  /** Ignore this many pixels at each edge of the activation in the loss (2nd ed.: 2). Default 0. */
  border?: number;
  /** Crop this many pixels from each edge of the result (2nd ed.: 25). Default 0. */
  crop?: number;
  /**
   * Turns the optimised input into a picture: `"book"` (default, the 1st
   * edition's: standardised to standard deviation 0.1 around 0.5), `"2nd-edition"`
   * (`(x − mean) / std · 64 + 128`), or `"none"` (the raw floats).
   */
  deprocess?: "book" | "2nd-edition" | "none";
  /** Most images per forward/backward pass; default: as many as fit in memory. */
  batchSize?: number;
  /** Stops the ascent early; what was reached so far (for maximisation: the best so far) is returned. */
  signal?: AbortSignal;
  /**
   * Called after each step with the mean objective of the images in the pass
   * (for maximisation, the score less the regularisers).
   */
  onStep?: (step: number, objective: number) => void;
  /** Show a progress bar (terminal) or a live output (notebook). Default false. */
  progress?: boolean;
  /**
   * What is maximised: `"pre-activation"` (default), the filter's output
   * before the layer's own activation (ReLU), as the 2nd edition (its
   * Xception layers have no activation of their own) and Lucid do; or
   * `"post-activation"`, the 1st edition's ReLU'd output. A filter whose
   * ReLU'd output is zero everywhere on the start image has a zero gradient
   * there, so the 1st edition's objective leaves it as noise; its
   * pre-activation output always has a gradient.
   */
  objective?: "pre-activation" | "post-activation";
  /**
   * Called once per batch with each image's final mean objective and how far
   * the ascent moved it: the RMS change of its pixels, in pixel levels (1/255
   * of the input range). A change below the start noise's own RMS (5.8 levels
   * for the book's 128 ± 20 noise) leaves a tile that still looks like noise.
   */
  onFinalActivations?: (
    filters: readonly number[],
    means: Float32Array,
    change: Float32Array,
  ) => void;
  /**
   * `"pixels"` (default): the book's ascent on raw pixels. `"fourier"`: Lucid's
   * recipe — 1/f-scaled Fourier spectrum, decorrelated colour, sigmoid,
   * transformation robustness, Adam (`stepSize` 0.05, `steps` default 512) —
   * which gives far clearer patterns.
   */
  parameterization?: "pixels" | "fourier";
  /**
   * The range of pixel values the model was trained on. The book's recipe is
   * stated for [0, 255] (VGG16); for a model trained on pixels / 255, like the
   * book's own cats-vs-dogs convnet, starting noise and step size are scaled
   * into [0, 1] (unscaled, its ReLUs saturate and the ascent barely moves the
   * noise). With `"fourier"`, the range the [0, 1] image is mapped to.
   * Default: the range the model carries ({@linkcode modelInputRange}; the
   * shipped book model says [0, 1]), else [0, 255].
   */
  inputRange?: readonly [number, number];
  /** Class maximisation: the layer whose units are maximised (name or path). Default the model's output. */
  layer?: string;
  /** Class maximisation: RMSprop learning rate (ρ = 0.999, as tf-keras-vis). Default 1. */
  learningRate?: number;
  /** Class maximisation: penalties subtracted from the score; default tf-keras-vis's (TV 1.0 + L1 0.3). */
  regularizers?: readonly Regularizer[];
  /** Class maximisation: perturbations before each step; default tf-keras-vis's (jitter 4, rotate 1°). */
  inputModifiers?: readonly InputModifier[];
  /** Class maximisation: score the output before its softmax/sigmoid (never changing the model). Default true. */
  linear?: boolean;
}
