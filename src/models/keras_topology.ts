/**
 * Building a TensorFlow.js model from a translated Keras topology, with
 * errors that name the file.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { KerasFileError, type KerasLayerConfig } from "./keras_config.ts";

/** Builds the layers of a translated topology (weights are set afterwards). */
export async function buildTopology(
  topology: KerasLayerConfig,
  kerasVersion: string,
  label: string,
): Promise<tf.LayersModel> {
  try {
    return await tf.models.modelFromJSON(
      {
        modelTopology: { ...topology, keras_version: kerasVersion, backend: "tensorflow" },
      } as unknown as Parameters<typeof tf.models.modelFromJSON>[0],
    ) as unknown as tf.LayersModel;
  } catch (error) {
    throw new KerasFileError(
      `${label}: the model config does not build (${(error as Error).message})`,
    );
  }
}
