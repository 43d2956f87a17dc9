/**
 * Bringing tensors' values back from the GPU, so that synchronous readers
 * (figures, `dataSync`) work on every backend.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { readsSynchronously } from "./webgpu.ts";

/**
 * Brings tensors' values back to the CPU and returns them unchanged: on
 * webgpu, afterwards `dataSync()` and convscope's figures can read them; on
 * wasm and cpu, where values are always readable, it does nothing. Tensors
 * are accepted alone, in arrays or in objects (one level deep).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { initBackend, matshow, readBack, tf } from "convscope";
 * await initBackend();
 * const map = await readBack(tf.square(tf.randomNormal([8, 8])));
 * assertEquals(matshow(map).width > 0, true); // drawn on any backend
 * ```
 */
export async function readBack<T>(tensors: T): Promise<T> {
  if (readsSynchronously()) return tensors;
  const found: tf.Tensor[] = [];
  const collect = (value: unknown) => {
    if (value instanceof tf.Tensor) found.push(value);
    else if (Array.isArray(value)) value.forEach(collect);
  };
  if (tensors instanceof tf.Tensor || Array.isArray(tensors)) collect(tensors);
  else if (tensors != null && typeof tensors === "object") {
    Object.values(tensors as Record<string, unknown>).forEach(collect);
  }
  // tfjs keeps what `data()` read beside the GPU copy, so later synchronous reads find it.
  await Promise.all(found.filter((t) => !t.isDisposed).map((t) => t.data()));
  return tensors;
}

/**
 * The values of scalar tensors (the first value of each), read without a
 * synchronous stall on any backend; the tensors are disposed.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { initBackend, tf } from "convscope";
 * import { readScalars } from "./read_back.ts";
 * await initBackend();
 * assertEquals(await readScalars(tf.scalar(2), tf.max(tf.tensor1d([1, 5]))), [2, 5]);
 * ```
 */
export async function readScalars(...tensors: tf.Tensor[]): Promise<number[]> {
  try {
    return await Promise.all(tensors.map(async (t) => (await t.data())[0] as number));
  } finally {
    tf.dispose(tensors);
  }
}

/**
 * Runs synchronous tensor work for a figure on the `cpu` backend when the
 * running backend cannot read synchronously (webgpu), and returns its
 * result: inputs whose values were brought back move to the CPU, and what
 * `fn` makes can be read at once. On wasm and cpu it just calls `fn`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { initBackend, tf } from "convscope";
 * import { onCpuWhenNeeded } from "./read_back.ts";
 * await initBackend();
 * assertEquals(onCpuWhenNeeded(() => tf.scalar(2).square().dataSync()[0]), 4);
 * ```
 */
export function onCpuWhenNeeded<T>(fn: () => T): T {
  if (readsSynchronously()) return fn();
  const engine = tf.engine();
  const running = engine.backendName;
  // Switching to an initialised backend completes synchronously.
  void engine.setBackend("cpu");
  try {
    return fn();
  } finally {
    void engine.setBackend(running);
  }
}
