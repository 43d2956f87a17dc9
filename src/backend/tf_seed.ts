/**
 * Seeds for tfjs's random ops and initialisers that always seed them.
 *
 * @module
 */

/** What seed 0 becomes (any fixed nonzero number would do). */
const ZERO_SEED = 0x5eed;

/**
 * The seed to hand tfjs for `seed`: tfjs tests its seeds for truth, so seed
 * 0 silently means "unseeded" (`Math.random`), and filter 0's start image,
 * the first SmoothGrad sample or a model built with seed 0 differed on
 * every run. Every other seed passes unchanged.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { initBackend, tf } from "convscope";
 * import { tfSeed } from "./tf_seed.ts";
 * await initBackend();
 * const draw = () => tf.randomNormal([3], 0, 1, "float32", tfSeed(0)).arraySync();
 * assertEquals(draw(), draw());
 * assertEquals(tfSeed(7), 7);
 * ```
 */
export function tfSeed(seed: number): number {
  return seed === 0 ? ZERO_SEED : seed;
}
