/**
 * One call for every model file a Keras user has: Keras 2 `.h5`, Keras 3
 * `.keras`, or a TensorFlow.js layers folder; the format is told by content.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { stat } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { assertBackendReady } from "../backend/init.ts";
import { readSource, type Source } from "../io/source.ts";
import { isZip } from "../io/zip.ts";
import { isHdf5 } from "./hdf5.ts";
import { KerasFileError } from "./keras_config.ts";
import { disposingOnFailure } from "./_budget.ts";
import { loadKeras2Hdf5 } from "./keras_h5.ts";
import { loadKeras3 } from "./keras_v3.ts";
import { loadModel } from "./save.ts";

async function isTfjsLayersSource(source: string | URL): Promise<boolean> {
  const path = source instanceof URL ? source.pathname : source;
  if (path.endsWith(".json")) return true;
  if (source instanceof URL && source.protocol !== "file:") return false;
  const local = source instanceof URL ? fileURLToPath(source) : source;
  return await stat(local).then((s) => s.isDirectory(), () => false);
}

/**
 * Loads a model file as a tfjs `LayersModel`, weights included, telling the
 * format by content:
 * - Keras 2 full-model HDF5 (`model.save("x.h5")`): both config styles,
 *   Sequential and Functional;
 * - Keras 3 `.keras` zip (`config.json` + `model.weights.h5`), nested models
 *   included, weights matched the way Keras matches them;
 * - the TensorFlow.js layers format: a folder holding `model.json`, or the
 *   path or URL of a `model.json`.
 *
 * Keras preprocessing-augmentation layers (RandomFlip, RandomRotation, …)
 * load as identities, with a note on stderr. Any other unsupported layer, a
 * `Lambda` layer (it carries Python code, which is never run), a damaged file
 * or mismatched weights end in a {@linkcode KerasFileError} naming the
 * problem.
 *
 * @example
 * ```ts
 * import { initBackend, loadKerasModel, modelSummary } from "convscope";
 * await initBackend();
 * const file = "cats_and_dogs_small_2.h5"; // the file the book's notebook 5.2 saves
 * if (await Deno.stat(file).then(() => true, () => false)) {
 *   console.log(modelSummary(await loadKerasModel(file)).text);
 * }
 * ```
 */
export async function loadKerasModel(source: Source): Promise<tf.LayersModel> {
  assertBackendReady();
  let label = source instanceof Uint8Array || source instanceof ArrayBuffer
    ? `<${source.byteLength} bytes>`
    : String(source);
  try {
    // Whatever fails, nothing it built stays behind.
    return await disposingOnFailure(async () => {
      if (
        (typeof source === "string" || source instanceof URL) && await isTfjsLayersSource(source)
      ) {
        return await loadModel(source);
      }
      const read = await readSource(source);
      label = read.label;
      const bytes = read.bytes;
      if (isHdf5(bytes)) return await loadKeras2Hdf5(bytes, label);
      if (isZip(bytes)) return await loadKeras3(bytes, label);
      const head = new TextDecoder().decode(bytes.slice(0, 64)).trimStart();
      if (head.startsWith("{")) {
        throw new KerasFileError(
          `${label}: looks like a tfjs model.json; pass its path, folder or URL so its weight files can be found`,
        );
      }
      throw new KerasFileError(
        `${label}: not a model file convscope knows (neither HDF5 .h5, a .keras zip, nor a tfjs model.json)`,
      );
    });
  } catch (error) {
    if (error instanceof KerasFileError) throw error;
    const message = (error as Error)?.message ?? String(error);
    throw new KerasFileError(
      message.startsWith(label) ? message : `${label}: ${message}`,
      { cause: error },
    );
  }
}
