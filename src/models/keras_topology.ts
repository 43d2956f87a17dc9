/**
 * Building a TensorFlow.js model from a translated Keras topology, with
 * errors that name the file and nothing left behind when it fails.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { KerasFileError, type KerasLayerConfig } from "./keras_config.ts";
import "./_resizing_layer.ts";
import { checkActivationBudget, withWeightBudget } from "./_budget.ts";

/**
 * tfjs counts each call of a nested model as a reference, so disposing the
 * outer model leaves a nested model built from a file (and its weights)
 * alive. A model built here owns its nested models: one reference each.
 */
function adoptNestedModels(model: tf.LayersModel): void {
  // A parent's dispose() calls dispose() once per entry of `layers`, and once
  // more per entry of `internalContainerRefs` (a Functional parent lists its
  // nested models there; a Sequential parent does not).
  const internal = (model as unknown as { internalContainerRefs?: unknown[] })
    .internalContainerRefs ?? [];
  for (const layer of model.layers) {
    if (layer instanceof tf.LayersModel) {
      (layer as unknown as { _refCount: number })._refCount = 1 +
        internal.filter((c) => c === layer).length;
      adoptNestedModels(layer);
    }
  }
}

/** Builds the layers of a translated topology (weights are set afterwards). */
export async function buildTopology(
  topology: KerasLayerConfig,
  kerasVersion: string,
  label: string,
): Promise<tf.LayersModel> {
  try {
    const model = await withWeightBudget(label, async () =>
      await tf.models.modelFromJSON(
        {
          modelTopology: { ...topology, keras_version: kerasVersion, backend: "tensorflow" },
        } as unknown as Parameters<typeof tf.models.modelFromJSON>[0],
      ) as unknown as tf.LayersModel);
    adoptNestedModels(model);
    try {
      checkActivationBudget(model, label);
    } catch (error) {
      model.dispose();
      throw error;
    }
    return model;
  } catch (error) {
    if (error instanceof KerasFileError) throw error;
    throw new KerasFileError(
      `${label}: the model config does not build (${(error as Error).message})`,
      { cause: error },
    );
  }
}
