/**
 * The trained cats-vs-dogs convnet that ships with convscope.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { fileURLToPath } from "node:url";
import { loadModel } from "./save.ts";
import { setModelInputRange } from "./metadata.ts";
import type { History } from "./history.ts";

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
    const present = await Deno.stat(`${BOOK_MODEL_DIR}model.json`).then(() => true, () => false);
    throw new Error(
      present
        ? `Could not load the trained book model from ${BOOK_MODEL_DIR}: ${
          (error as Error).message
        }`
        : `The trained book model is missing from ${BOOK_MODEL_DIR} (run \`deno task train\`): ${
          (error as Error).message
        }`,
    );
  }
}

/**
 * The training record of the shipped book model: its recipe and the per-epoch
 * history of the full run, ready for `plotHistory`.
 *
 * @example
 * ```ts
 * import { loadBookModelTraining, plotHistory } from "convscope";
 * const record = await loadBookModelTraining();
 * console.log(record.recipe, record.valAccuracy);
 * await (await plotHistory(record.history)).save("out/book_model_history.png");
 * ```
 */
export async function loadBookModelTraining(): Promise<{
  /** Which model of the book. */
  architecture: string;
  /** Optimizer, learning-rate schedule and batch size. */
  recipe: string;
  /** Augmentation settings. */
  augmentation: string;
  /** Seed of the run. */
  seed: number;
  /** The epoch whose weights ship (1-based). */
  bestEpoch: number;
  /** Validation accuracy of the shipped weights. */
  valAccuracy: number;
  /** Per-epoch loss, accuracy, validation loss and accuracy, and seconds. */
  history: History;
}> {
  const path = `${BOOK_MODEL_DIR}training.json`;
  const record = JSON.parse(await Deno.readTextFile(path)) as Awaited<
    ReturnType<typeof loadBookModelTraining>
  >;

  if (!record.history || !Array.isArray(record.history.val_acc)) {
    throw new Error(`${path} holds no training history`);
  }
  return record;
}
