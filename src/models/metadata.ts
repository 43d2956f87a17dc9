/**
 * What a model needs to say about itself beyond its layers: the range of
 * pixel values it was trained on. Kept in tfjs's `userDefinedMetadata`, so
 * it travels in `model.json`.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

interface ConvscopeMetadata {
  convscope?: { inputRange?: [number, number] };
}

/**
 * The pixel range a model was trained on, if it carries one (models trained
 * by convscope and the shipped book model do: `[0, 1]`).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { initBackend, loadBookModel, modelInputRange } from "convscope";
 * await initBackend();
 * assertEquals(modelInputRange(await loadBookModel()), [0, 1]);
 * ```
 */
export function modelInputRange(model: tf.LayersModel): [number, number] | undefined {
  const meta = model.getUserDefinedMetadata() as ConvscopeMetadata | undefined;
  const range = meta?.convscope?.inputRange;
  return Array.isArray(range) && range.length === 2 ? [range[0], range[1]] : undefined;
}

/**
 * Records the pixel range a model was trained on (kept by `saveModel`).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { bookConvnet, initBackend, modelInputRange, setModelInputRange } from "convscope";
 * await initBackend();
 * const model = bookConvnet();
 * setModelInputRange(model, [0, 1]); // trained on pixels / 255
 * assertEquals(modelInputRange(model), [0, 1]);
 * ```
 */
export function setModelInputRange(model: tf.LayersModel, range: readonly [number, number]): void {
  const meta = (model.getUserDefinedMetadata() ?? {}) as ConvscopeMetadata & object;
  model.setUserDefinedMetadata({
    ...meta,
    convscope: { ...meta.convscope, inputRange: [range[0], range[1]] },
  });
}
