/**
 * Fitting batched work into the WASM heap (4 GiB at most): estimate what one
 * sample costs and split a batch into chunks that fit.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { storageBindingBytes } from "./webgpu.ts";

/** Bytes the wasm32 heap can grow to. */
export const WASM_HEAP_LIMIT = 4 * 1024 ** 3;

/**
 * The bytes one sample needs for a forward and backward pass (see `sampleFootprint` in `src/methods/`), from known shapes: the input's and every
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
 * The bytes of one sample's largest single tensor (the input or a layer
 * output), from the same shapes as {@linkcode bytesForShapes}.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { largestTensorBytes } from "./memory.ts";
 * assertEquals(largestTensorBytes([64, 64, 3], [[62, 62, 32], [31, 31, 32]]), 4 * 62 * 62 * 32);
 * ```
 */
export function largestTensorBytes(
  input: readonly number[],
  shapes: readonly (readonly number[])[],
): number {
  const size = (s: readonly number[]) => s.reduce((a, d) => a * d, 1);
  return 4 * Math.max(size(input), ...shapes.map(size));
}

/**
 * The largest batch (≤ `wanted`) whose pass fits a budget of the heap that
 * is still free (half of it, at most 1.5 GiB); on webgpu also one whose
 * largest tensor fits one storage binding (128 MiB on many drivers), which
 * `largestTensorBytesEach` (one sample's) tells.
 *
 * @example
 * ```ts
 * import { largestFittingBatch } from "./memory.ts";
 * console.log(largestFittingBatch(64, 100e6)); // 64 or fewer, never below 1
 * ```
 */
export function largestFittingBatch(
  wanted: number,
  bytesEach: number,
  largestTensorBytesEach = 0,
): number {
  const used = tf.memory().numBytes;
  // Keep most of the heap free: fragmentation and other work need room, and
  // bigger chunks are no faster per image once a pass is a few images large.
  const budget = Math.min(1.5 * 1024 ** 3, (WASM_HEAP_LIMIT - used) * 0.5);
  let batch = Math.floor(budget / Math.max(1, bytesEach));
  const binding = storageBindingBytes();
  if (binding && largestTensorBytesEach > 0) {
    batch = Math.min(batch, Math.floor(binding / largestTensorBytesEach));
  }
  return Math.max(1, Math.min(wanted, batch));
}
