/**
 * The few assertions the tests need (JSR's std is not reachable here), on top
 * of `node:assert/strict` so failures print a diff.
 *
 * @module
 */
import nodeAssert from "node:assert/strict";

export function assert(condition: unknown, message?: string): asserts condition {
  // Passed only when given: @types/node (which puppeteer-core brings) types it as not undefined.
  if (message === undefined) nodeAssert.ok(condition);
  else nodeAssert.ok(condition, message);
}

export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  if (message === undefined) nodeAssert.deepStrictEqual(actual, expected);
  else nodeAssert.deepStrictEqual(actual, expected, message);
}

/** max |actual − expected| / max |expected|: the error of a float computation, relative to its scale. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let worst = 0, scale = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return worst / Math.max(scale, 1e-12);
}

export function assertAlmostEquals(
  actual: number,
  expected: number,
  tolerance = 1e-7,
  message?: string,
): void {
  nodeAssert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${message ? message + ": " : ""}${actual} is not within ${tolerance} of ${expected}`,
  );
}

export function assertThrows(fn: () => unknown, includes?: string | RegExp): Error {
  try {
    fn();
  } catch (error) {
    checkMessage(error, includes);
    return error as Error;
  }
  throw new nodeAssert.AssertionError({ message: "expected the function to throw" });
}

export async function assertRejects(
  fn: () => Promise<unknown>,
  includes?: string | RegExp,
): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    checkMessage(error, includes);
    return error as Error;
  }
  throw new nodeAssert.AssertionError({ message: "expected the promise to reject" });
}

function checkMessage(error: unknown, includes?: string | RegExp): void {
  if (includes == null) return;
  const message = error instanceof Error ? error.message : String(error);
  const ok = typeof includes === "string" ? message.includes(includes) : includes.test(message);
  nodeAssert.ok(ok, `error message ${JSON.stringify(message)} does not match ${includes}`);
}
