/**
 * What a model file may make convscope allocate, decided before allocating:
 * files declare sizes (weight shapes, input shapes, kernel sizes, inflated
 * zip entries) that cost gigabytes if believed blindly.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { KerasFileError } from "./keras_file_error.ts";

/**
 * Float32 values all of a model's weights may hold: 2²⁹ (2 GiB). VGG16, the
 * largest model of the chapter, has 1.4·10⁸.
 */
export const MAX_MODEL_WEIGHT_VALUES = 2 ** 29;

/**
 * Float32 values one sample's activations may hold, summed over layers: 2²⁸
 * (1 GiB). VGG16 at 224² has 1.5·10⁷.
 */
export const MAX_SAMPLE_ACTIVATION_VALUES = 2 ** 28;

const product = (shape: readonly (number | null)[]) =>
  shape.reduce<number>((a, b) => a * (b ?? 1), 1);

/**
 * Runs `build` while every weight tfjs is about to create is counted first:
 * past the budget, the build stops with a named error before the weight is
 * allocated (a Conv2D declaring a 65536×65536 kernel never reaches memory).
 */
export async function withWeightBudget<T>(label: string, build: () => Promise<T>): Promise<T> {
  const proto = tf.layers.Layer.prototype as unknown as {
    addWeight: (
      this: tf.layers.Layer,
      name: string,
      shape: number[],
      ...rest: unknown[]
    ) => unknown;
  };
  const original = proto.addWeight;
  let total = 0;
  proto.addWeight = function (name, shape, ...rest) {
    const count = product(shape);
    total += count;
    if (!Number.isFinite(count) || total > MAX_MODEL_WEIGHT_VALUES) {
      throw new KerasFileError(
        `${label}: layer "${this.name}" declares a weight "${name}" of shape [${shape}], ` +
          `which takes the model past ${MAX_MODEL_WEIGHT_VALUES} weight values (2 GiB)`,
      );
    }
    return original.call(this, name, shape, ...rest);
  };
  try {
    return await build();
  } finally {
    proto.addWeight = original;
  }
}

/** Refuses a built model whose activations for one sample would not fit in memory. */
export function checkActivationBudget(model: tf.LayersModel, label: string): void {
  let total = 0;
  const visit = (m: tf.LayersModel) => {
    for (const layer of m.layers) {
      if (layer instanceof tf.LayersModel) visit(layer);
      // Every call's outputs (a nested model's calls may differ in shape).
      const nodes = (layer as unknown as { inboundNodes: { outputShapes: unknown }[] })
        .inboundNodes;
      const shapes = nodes.flatMap((node) =>
        Array.isArray((node.outputShapes as unknown[])[0])
          ? node.outputShapes as (number | null)[][]
          : [node.outputShapes as (number | null)[]]
      );
      for (const shape of shapes) {
        total += product(shape.slice(1));
        if (total > MAX_SAMPLE_ACTIVATION_VALUES) {
          throw new KerasFileError(
            `${label}: layer "${layer.name}" outputs shape [${shape}]: one sample's activations ` +
              `would pass ${MAX_SAMPLE_ACTIVATION_VALUES} values (1 GiB)`,
          );
        }
      }
    }
  };
  visit(model);
}

/**
 * Runs `build`; if it throws, disposes every variable created meanwhile
 * (tfjs leaves a half-built model's weights alive), then rethrows.
 */
export async function disposingOnFailure<T>(build: () => Promise<T>): Promise<T> {
  const before = new Set(Object.keys(tf.engine().state.registeredVariables));
  try {
    return await build();
  } catch (error) {
    const registered = tf.engine().state.registeredVariables;
    for (const name of Object.keys(registered)) {
      if (!before.has(name)) registered[name].dispose();
    }
    throw error;
  }
}
