/**
 * The trained cats-vs-dogs convnet that ships with convscope.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { fileURLToPath } from "node:url";
import { loadModel } from "./save.ts";
import { setModelInputRange } from "./metadata.ts";

/** Where the shipped weights live (tfjs layers format, float16). */
export const BOOK_MODEL_DIR: string = fileURLToPath(
  new URL("../../models/cats_and_dogs_small/", import.meta.url),
);

/**
 * Loads the book's cats-vs-dogs convnet (model 2) as trained by
 * `deno task train` and shipped in `models/cats_and_dogs_small/`: offline,
 * one call. Its input is a 150×150 RGB picture scaled to [0, 1]; its output
 * the probability of "dog" (class 1; "cat" is class 0).
 *
 * @example
 * ```ts
 * import { initBackend, loadBookModel, loadImage, tf } from "convscope";
 * await initBackend();
 * const model = await loadBookModel();
 * const cat = await loadImage("notebooks/images/chelsea.png", { targetSize: [150, 150] });
 * const p = model.predict(tf.div(cat, 255).expandDims(0)) as tf.Tensor;
 * console.log("P(dog) =", p.dataSync()[0]);
 * ```
 */
export async function loadBookModel(): Promise<tf.LayersModel> {
  try {
    const model = await loadModel(BOOK_MODEL_DIR);
    // Trained on pixels / 255 (also written into model.json by `deno task train`).
    setModelInputRange(model, [0, 1]);
    return model;
  } catch (error) {
    throw new Error(
      `The trained book model is missing from ${BOOK_MODEL_DIR} (run \`deno task train\`): ${
        (error as Error).message
      }`,
    );
  }
}
