/**
 * Gradient ascent in input space: the one loop behind the book's filter
 * patterns, Lucid's Fourier recipe and class maximisation. What differs
 * between them is data: the objective, how the images are parameterised
 * (raw pixels, or a Fourier spectrum), and the optimiser (the book's
 * normalised-gradient step, Adam, RMSprop).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { normalizeGradient } from "./gradient_ascent.ts";
import { type FourierImage, fourierImage } from "./fourier.ts";
import { ProgressBar } from "../display/progress.ts";
import { QUICK_ASCENT_STEPS, quickMode } from "../_quick_mode.ts";

/** How the optimised images are stored: trainable variables and the images they render. */
export interface Parameterization {
  /** The images the objective sees, `[n, h, w, c]`, differentiable with respect to `variables`. */
  render(): tf.Tensor4D;
  /** What the optimiser changes. */
  readonly variables: tf.Variable[];
  /** Frees the variables. */
  dispose(): void;
}

/** Raw pixels: the images themselves are the variable (the book's recipe). */
export function pixelImages(start: tf.Tensor4D): Parameterization {
  const x = tf.variable(start);
  return {
    render: () => x as unknown as tf.Tensor4D,
    variables: [x],
    dispose: () => x.dispose(),
  };
}

/** Lucid's parameterisation: a 1/f-scaled Fourier spectrum in decorrelated colour, images in [0, 1]. */
export function fourierImages(n: number, size: number, seed: number): Parameterization {
  const param: FourierImage = fourierImage(n, size, size, seed);
  return {
    render: () => param.render(),
    variables: [param.spectrum],
    dispose: () => param.dispose(),
  };
}

/**
 * The book's step: the gradient normalised per image (by its RMS in the 1st
 * edition, its L2 norm in the 2nd) times a fixed step size.
 */
export interface NormalizedStep {
  /** `"rms"`, `"l2"` or `"none"`. */
  gradientNormalization: "rms" | "l2" | "none";
  /** Step size in input units. */
  stepSize: number;
}

/** Options of {@linkcode ascend}. */
export interface AscendOptions {
  /** Steps. */
  steps: number;
  /** The book's normalised step, or a tfjs optimiser (Adam for Lucid, RMSprop for tf-keras-vis). */
  optimizer: NormalizedStep | tf.Optimizer;
  /** Runs before each step, e.g. input modifiers that move the pixels. */
  beforeStep?: (step: number) => void;
  /** Runs after each update, e.g. clipping to the input range. */
  afterStep?: (step: number) => void;
  /** Return, per image, the images of the step where its objective was highest (default: the last). */
  keepBest?: boolean;
  /** Stops early; what was reached so far is returned. */
  signal?: AbortSignal;
  /** Called after each step with the mean objective. */
  onStep?: (step: number, objective: number) => void;
  /** A progress bar (terminal) or live output (notebook) with this label. */
  progress?: string;
}

/** What {@linkcode ascend} reached. */
export interface AscentResult {
  /** `[n, h, w, c]`: the images reached (or the best ones, with `keepBest`). The caller disposes them. */
  images: tf.Tensor4D;
  /** Each image's objective at the returned images (NaN if no step ran). */
  objectives: number[];
  /** The step each returned image comes from. */
  steps: number[];
}

/**
 * Climbs `objective` (one value per image, to maximise) by changing the
 * images through `parameterization`. Each step records the objective on the
 * tape, computes the gradient with respect to the variables, and lets the
 * optimiser move them; between steps it yields to the event loop, so an
 * abort signal or a notebook's output can get through. The
 * parameterization is disposed at the end.
 *
 * @example
 * ```ts
 * import { initBackend, tf } from "convscope";
 * import { ascend, pixelImages } from "./ascend.ts";
 * await initBackend();
 * // Maximise the mean of each image: every pixel climbs.
 * const { images, objectives } = await ascend(
 *   (x) => tf.mean(x, [1, 2, 3]) as tf.Tensor1D,
 *   pixelImages(tf.zeros([2, 4, 4, 1])),
 *   { steps: 3, optimizer: { gradientNormalization: "rms", stepSize: 1 } },
 * );
 * console.log(images.shape, objectives); // [2, 4, 4, 1] [3, 3]
 * ```
 */
export async function ascend(
  objective: (images: tf.Tensor4D, step: number) => tf.Tensor1D,
  parameterization: Parameterization,
  options: AscendOptions,
): Promise<AscentResult> {
  const { optimizer } = options;
  const steps = quickMode() ? Math.min(options.steps, QUICK_ASCENT_STEPS) : options.steps;
  const bar = options.progress
    ? new ProgressBar({ total: steps, label: options.progress })
    : undefined;
  let best: tf.Tensor4D | undefined;
  let bestObjective: number[] = [];
  let bestStep: number[] = [];
  const pause = eventLoopTurns();
  try {
    for (let step = 0; step < steps; step++) {
      if (options.signal?.aborted) break;
      options.beforeStep?.(step);
      // The images this step's objective belongs to (before the update).
      const seen = options.keepBest ? tf.tidy(() => parameterization.render().clone()) : undefined;
      let values: tf.Tensor1D | undefined;
      const { value, grads } = tf.variableGrads(() => {
        const perImage = objective(parameterization.render(), step);
        values = tf.keep(perImage.clone());
        return tf.neg(tf.sum(perImage)) as tf.Scalar;
      }, parameterization.variables);
      if (optimizer instanceof tf.Optimizer) {
        optimizer.applyGradients(grads);
      } else {
        tf.tidy(() => {
          for (const v of parameterization.variables) {
            // grads are of −objective: stepping against them climbs the objective.
            const g = normalizeGradient(grads[v.name], optimizer.gradientNormalization);
            v.assign(tf.sub(v, tf.mul(g, optimizer.stepSize)));
          }
        });
      }
      tf.dispose([value, ...Object.values(grads)]);
      options.afterStep?.(step);
      const current = [...((await values!.data()) as Float32Array)];
      values!.dispose();
      if (seen) {
        if (!best) {
          best = seen;
          bestObjective = current;
          bestStep = current.map(() => step);
        } else {
          const improved = current.map((v, i) => v > bestObjective[i]);
          if (improved.some(Boolean)) {
            const next = tf.tidy(() => {
              const keep = tf.tensor1d(improved.map((b) => (b ? 1 : 0)), "bool")
                .reshape([improved.length, 1, 1, 1])
                .tile([1, ...seen.shape.slice(1)]);
              return tf.where(keep, seen, best!) as tf.Tensor4D;
            });
            best.dispose();
            best = next;
            improved.forEach((b, i) => {
              if (b) [bestObjective[i], bestStep[i]] = [current[i], step];
            });
          }
          seen.dispose();
        }
      } else {
        bestObjective = current;
        bestStep = current.map(() => step);
      }
      const mean = current.reduce((a, b) => a + b, 0) / current.length;
      options.onStep?.(step, mean);
      bar?.tick({ objective: mean });
      await pause.next();
    }
    const images = best ?? tf.tidy(() => parameterization.render().clone());
    best = undefined;
    const n = images.shape[0];
    return {
      images,
      objectives: bestObjective.length ? bestObjective : new Array(n).fill(NaN),
      steps: bestStep.length ? bestStep : new Array(n).fill(0),
    };
  } finally {
    pause.close();
    best?.dispose();
    bar?.done();
    parameterization.dispose();
  }
}

/** How often the ascent lets timers run (abort timeouts, progress redraws). */
const TIMER_TURN_MS = 50;

/**
 * Turns of the event loop between steps, so that an abort, a notebook's
 * messages and progress output get through. `setTimeout(0)` costs 1–4 ms per
 * call in Deno (nested timers are clamped), as long as a whole batch-1 step
 * of a small layer; a message through a `MessageChannel` is a task too and
 * costs ~35 µs, so steps use that, and a timer every 50 ms.
 */
function eventLoopTurns(): { next(): Promise<void>; close(): void } {
  const channel = new MessageChannel();
  let lastTimer = performance.now();
  return {
    next() {
      if (performance.now() - lastTimer >= TIMER_TURN_MS) {
        lastTimer = performance.now();
        return new Promise((resolve) => setTimeout(resolve, 0));
      }
      return new Promise((resolve) => {
        channel.port1.onmessage = () => resolve();
        channel.port2.postMessage(null);
      });
    },
    close() {
      channel.port1.close();
      channel.port2.close();
    },
  };
}
