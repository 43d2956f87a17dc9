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

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.next(), v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /**
   * Gamma(shape, 1) by Marsaglia and Tsang's method (shapes below 1 by the
   * boost Gamma(a) = Gamma(a + 1)·U^(1/a)).
   */
  gamma(shape: number): number {
    if (!(shape > 0)) throw new Error(`gamma: the shape must be positive, got ${shape}`);
    if (shape < 1) return this.gamma(shape + 1) * Math.pow(1 - this.next(), 1 / shape);
    const d = shape - 1 / 3, c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number, v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = 1 - this.next();
      if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
    }
  }

  /**
   * Beta(a, b), from two gamma draws.
   *
   * @example
   * ```ts
   * import { deepStrictEqual as assertEquals } from "node:assert/strict";
   * import { SeededRandom } from "convscope";
   * const r = new SeededRandom(1);
   * const draws = Array.from({ length: 20000 }, () => r.beta(2, 5));
   * const mean = draws.reduce((s, v) => s + v, 0) / draws.length;
   * assertEquals(Math.abs(mean - 2 / 7) < 0.01, true); // E[Beta(a, b)] = a / (a + b)
   * ```
   */
  beta(a: number, b: number): number {
    const x = this.gamma(a), y = this.gamma(b);
    return x / (x + y);
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
