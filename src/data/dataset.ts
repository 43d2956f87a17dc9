/**
 * Pictures in class folders as a stream of batches, like Keras
 * `flow_from_directory` / `image_dataset_from_directory`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { decodeImage } from "../image/load.ts";
import { resizeImage } from "../image/resize.ts";
import { SeededRandom } from "./random.ts";
import { augmentBatch, type AugmentOptions, BOOK_AUGMENTATION } from "./augment.ts";
import { QUICK_BATCHES, quickMode } from "../_quick_mode.ts";
import { notice } from "../_notice.ts";

const IMAGE_EXTENSIONS = /\.(jpe?g|png|webp)$/i;

/** Options of {@linkcode imageDatasetFromDirectory}. */
export interface ImageDatasetOptions {
  /** `[height, width]` every picture is resized to. Default `[150, 150]`. */
  targetSize?: readonly [number, number];
  /** Pictures per batch. Default 32. */
  batchSize?: number;
  /** `"binary"`: labels `[n, 1]` 0/1 (two classes); `"categorical"`: one-hot `[n, classes]`. Default: binary for two classes. */
  classMode?: "binary" | "categorical";
  /** Shuffle every epoch. Default true. */
  shuffle?: boolean;
  /** Seed for shuffling, the validation split and augmentation. Default 0. */
  seed?: number;
  /** Hold out this fraction of the files (per seed, reproducibly). */
  validationSplit?: number;
  /** With `validationSplit`: which part this dataset is. Default `"training"`. */
  subset?: "training" | "validation";
  /** Random augmentation: `true` for the book's settings, or explicit ranges. */
  augment?: boolean | AugmentOptions;
  /** Multiply pixel values (0–255) by this; the book uses 1/255. Default 1. */
  rescale?: number;
  /** Unreadable pictures: `"skip"` them and report (default) or `"fail"`. */
  onError?: "skip" | "fail";
}

/**
 * A directory of class folders, read batch by batch: only one batch of
 * pictures is in memory at a time.
 *
 * @example
 * ```ts
 * import { imageDatasetFromDirectory, initBackend } from "convscope";
 * await initBackend();
 * // The book's split, wherever you keep it (train/cats, train/dogs, …).
 * const dir = "data/cats_and_dogs_small/train";
 * if (await Deno.stat(dir).then(() => true, () => false)) {
 *   const train = await imageDatasetFromDirectory(dir, { batchSize: 20, rescale: 1 / 255 });
 *   console.log(train.classNames, train.size); // ["cats", "dogs"] 2000
 *   for await (const { x, y } of train.batches()) { x.dispose(); y.dispose(); break; }
 * }
 * ```
 */
export class ImageDataset {
  /** Pictures that failed to decode so far (with `onError: "skip"`). */
  readonly skipped: {
    /** Its path. */
    file: string;
    /** The decoder's message. */
    error: string;
  }[] = [];
  #epoch = 0;

  /** Use {@linkcode imageDatasetFromDirectory}. */
  constructor(
    /** Class names, sorted; label i is `classNames[i]`. */
    readonly classNames: string[],
    /** `[path, label]` pairs. */
    readonly files: [string, number][],
    readonly options:
      & Required<Omit<ImageDatasetOptions, "validationSplit" | "subset" | "augment">>
      & {
        augment?: AugmentOptions;
      },
  ) {}

  /** Number of pictures. */
  get size(): number {
    return this.files.length;
  }

  /** Batches per epoch. */
  get stepsPerEpoch(): number {
    const steps = Math.ceil(this.files.length / this.options.batchSize);
    return quickMode() ? Math.min(steps, QUICK_BATCHES) : steps;
  }

  /** Which epoch `batches()` will read next (advances by one per call). */
  get epoch(): number {
    return this.#epoch;
  }
  set epoch(value: number) {
    this.#epoch = value;
  }

  /**
   * The batches of one epoch. The order (and augmentation) of epoch k depends
   * only on the seed and k, so a resumed run sees the same data.
   */
  async *batches(): AsyncGenerator<{
    /** `[n, h, w, 3]` pixels. */
    x: tf.Tensor4D;
    /** Labels. */
    y: tf.Tensor2D;
    /** The files, in batch order. */
    files: string[];
  }> {
    const epoch = this.#epoch++;
    const { batchSize, shuffle, seed } = this.options;
    const order = this.files.map((_, i) => i);
    if (shuffle) new SeededRandom(seed * 7919 + epoch).shuffle(order);
    const augmentRandom = new SeededRandom(seed * 104729 + epoch + 1);
    const end = Math.min(order.length, this.stepsPerEpoch * batchSize);
    for (let start = 0; start < end; start += batchSize) {
      const picked = order.slice(start, start + batchSize).map((i) => this.files[i]);
      const batch = await this.#load(picked);
      if (batch.files.length === 0) continue;
      if (this.options.augment) {
        const augmented = augmentBatch(batch.x, this.options.augment, augmentRandom);
        batch.x.dispose();
        batch.x = augmented;
      }
      yield batch;
    }
  }

  async #load(picked: [string, number][]) {
    const [h, w] = this.options.targetSize;
    const pixels = new Float32Array(picked.length * h * w * 3);
    const labels: number[] = [];
    const files: string[] = [];
    for (const [file, label] of picked) {
      try {
        const decoded = await decodeImage(new Uint8Array(await readFile(file)), file);
        const resized = resizeImage(decoded, [h, w]);
        pixels.set(resized.data, files.length * h * w * 3);
      } catch (error) {
        const message = (error as Error).message;
        if (this.options.onError === "fail") throw error;
        this.skipped.push({ file, error: message });
        await notice(`skipping unreadable picture: ${message}`);
        continue;
      }
      labels.push(label);
      files.push(file);
    }
    const n = files.length;
    const scale = this.options.rescale;
    const x = tf.tidy(() => {
      const raw = tf.tensor4d(pixels.subarray(0, n * h * w * 3), [n, h, w, 3]);
      return (scale === 1 ? raw : tf.mul(raw, scale)) as tf.Tensor4D;
    });
    const y = this.options.classMode === "binary"
      ? tf.tensor2d(labels, [n, 1])
      : tf.tidy(() =>
        tf.oneHot(tf.tensor1d(labels, "int32"), this.classNames.length).toFloat() as tf.Tensor2D
      );
    return { x, y, files };
  }
}

/**
 * Lists `dir/<class>/*.jpg|jpeg|png|webp`, class names sorted (label i is the
 * i-th folder), and returns a dataset that streams batches.
 *
 * @example
 * ```ts
 * import { imageDatasetFromDirectory, initBackend } from "convscope";
 * await initBackend();
 * const dir = "data/cats_and_dogs_small/validation"; // the book's split, wherever you keep it
 * if (await Deno.stat(dir).then(() => true, () => false)) {
 *   const validation = await imageDatasetFromDirectory(dir, { shuffle: false });
 *   console.log(validation.stepsPerEpoch);
 * }
 * ```
 */
export async function imageDatasetFromDirectory(
  dir: string,
  options: ImageDatasetOptions = {},
): Promise<ImageDataset> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw new Error(`${dir}: cannot list the directory (${(error as Error).message})`);
  }
  const classNames = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  if (classNames.length === 0) {
    throw new Error(`${dir}: no class folders (expected ${dir}/<class>/<picture>.jpg)`);
  }
  const classMode = options.classMode ?? (classNames.length === 2 ? "binary" : "categorical");
  if (classMode === "binary" && classNames.length !== 2) {
    throw new Error(
      `${dir}: classMode "binary" needs 2 class folders, found ${classNames.length} (${
        classNames.join(", ")
      })`,
    );
  }
  let files: [string, number][] = [];
  for (const [label, name] of classNames.entries()) {
    const names = (await readdir(join(dir, name))).filter((f) => IMAGE_EXTENSIONS.test(f)).sort();
    files.push(...names.map((f): [string, number] => [join(dir, name, f), label]));
  }
  if (files.length === 0) {
    throw new Error(`${dir}: no .jpg, .png or .webp pictures in ${classNames.join(", ")}`);
  }
  const seed = options.seed ?? 0;
  if (options.validationSplit) {
    const order = new SeededRandom(seed).shuffle(files.map((_, i) => i));
    const held = Math.round(files.length * options.validationSplit);
    const chosen = new Set(
      options.subset === "validation" ? order.slice(0, held) : order.slice(held),
    );
    files = files.filter((_, i) => chosen.has(i));
  }
  const augment = options.augment === true
    ? { ...BOOK_AUGMENTATION }
    : options.augment || undefined;
  return new ImageDataset(classNames, files, {
    targetSize: options.targetSize ?? [150, 150],
    batchSize: options.batchSize ?? 32,
    classMode,
    shuffle: options.shuffle ?? true,
    seed,
    rescale: options.rescale ?? 1,
    onError: options.onError ?? "skip",
    ...(augment ? { augment } : {}),
  });
}
