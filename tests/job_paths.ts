/**
 * Checking a kernel that convscope runs as a SIMD job: the same result with
 * the job and its helper threads, the job on the main thread alone, and the
 * path it replaces.
 *
 * @module
 */
import { assert, assertEquals, relativeError } from "./assert.ts";
import { useSimdHelpers } from "../src/backend/simd_jobs.ts";

/**
 * `compute()` with the job on (helpers on, then off) and off (`useJob(false)`),
 * each within `tolerance` (relative to the largest value) of `expected`;
 * both switches end on.
 */
export function matchesWithAndWithoutJob(
  label: string,
  expected: ArrayLike<number>,
  compute: () => ArrayLike<number>,
  useJob: (on: boolean) => void,
  tolerance = 1e-5,
): void {
  try {
    for (const [own, helpers] of [[true, true], [true, false], [false, true]]) {
      useJob(own);
      useSimdHelpers(helpers);
      const actual = compute();
      assertEquals(actual.length, expected.length, label);
      const error = relativeError(actual, expected);
      assert(error <= tolerance, `${label} own=${own} helpers=${helpers}: ${error}`);
    }
  } finally {
    useJob(true);
    useSimdHelpers(true);
  }
}
