/**
 * A small seeded random number generator (mulberry32): reproducible shuffles
 * and augmentations whose state can be saved in a checkpoint.
 *
 * @module
 */

/**
 * Seeded uniform random numbers in [0, 1).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { SeededRandom } from "convscope";
 * const r = new SeededRandom(42);
 * assertEquals(r.next() === new SeededRandom(42).next(), true);
 * ```
 */
export class SeededRandom {
  /** The internal state; save it to resume the same sequence. */
  state: number;

  /** Starts the sequence of `seed`. */
  constructor(seed: number) {
    this.state = (Math.floor(seed) ^ 0x9e3779b9) >>> 0;
  }

  /** The next number in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** Shuffles in place (Fisher–Yates) and returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}
