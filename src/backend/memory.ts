/**
 * Fitting batched work into the WASM heap (4 GiB at most): estimate what one
 * sample costs and split a batch into chunks that fit.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Bytes the wasm32 heap can grow to. */
export const WASM_HEAP_LIMIT = 4 * 1024 ** 3;

/**
 * The bytes one sample needs for a forward and backward pass (see `bytesPerSample` in `src/methods/`), from known shapes: the input's and every
 * layer output's, without the batch axis.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { bytesForShapes } from "./memory.ts";
 * assertEquals(bytesForShapes([64, 64, 3], [[62, 62, 32]]) > 0, true);
 * ```
 */
export function bytesForShapes(
  input: readonly number[],
  shapes: readonly (readonly number[])[],
): number {
  const sizes = shapes.map((s) => s.reduce((a, d) => a * d, 1));
  const floats = sizes.reduce((a, b) => a + b, input.reduce((a, d) => a * d, 1));
  const largest = Math.max(0, ...sizes);
  // Measured on VGG16 at 150²: tfjs keeps pre- and post-activation maps for
  // the backward pass, and the ReLU and pooling gradients and the padded,
  // dilated copies of the convolution gradient each make full-size
  // temporaries; about six floats per activation value in all.
  return 4 * 6 * (floats + largest);
}

/**
 * The largest batch (≤ `wanted`) whose pass fits a budget of the heap that
 * is still free (half of it, at most 1.5 GiB).
 *
 * @example
 * ```ts
 * import { largestFittingBatch } from "./memory.ts";
 * console.log(largestFittingBatch(64, 100e6)); // 64 or fewer, never below 1
 * ```
 */
export function largestFittingBatch(wanted: number, bytesEach: number): number {
  const used = tf.memory().numBytes;
  // Keep most of the heap free: fragmentation and other work need room, and
  // bigger chunks are no faster per image once a pass is a few images large.
  const budget = Math.min(1.5 * 1024 ** 3, (WASM_HEAP_LIMIT - used) * 0.5);
  return Math.max(1, Math.min(wanted, Math.floor(budget / Math.max(1, bytesEach))));
}
