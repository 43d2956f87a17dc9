/**
 * Random affine augmentation, Keras `ImageDataGenerator` style: rotation,
 * shifts, shear, zoom and horizontal flips composed into one transform per
 * image and applied to a whole batch in one `tf.image.transform` call.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { SeededRandom } from "./random.ts";

/** Augmentation ranges, with the meanings Keras gives them. */
export interface AugmentOptions {
  /** Degrees; the angle is uniform in ±range. */
  rotationRange?: number;
  /** Fraction of the width; the shift is uniform in ±range × width. */
  widthShiftRange?: number;
  /** Fraction of the height. */
  heightShiftRange?: number;
  /** Shear angle in degrees (Keras' unit: 0.2 means ±0.2°). */
  shearRange?: number;
  /** Zoom factors uniform in [1 − range, 1 + range], independently per axis. */
  zoomRange?: number;
  /** Flip half of the images left–right. */
  horizontalFlip?: boolean;
  /** How to fill pixels from outside the image. Default `"nearest"`. */
  fillMode?: "nearest" | "constant" | "reflect" | "wrap";
}

/** The book's augmentation (Deep Learning with Python 5.2.5). */
export const BOOK_AUGMENTATION: Readonly<Required<AugmentOptions>> = {
  rotationRange: 40,
  widthShiftRange: 0.2,
  heightShiftRange: 0.2,
  shearRange: 0.2,
  zoomRange: 0.2,
  horizontalFlip: true,
  fillMode: "nearest",
};

type Mat = [number, number, number, number, number, number, number, number, number];
const mul = (a: Mat, b: Mat): Mat => [
  a[0] * b[0] + a[1] * b[3] + a[2] * b[6],
  a[0] * b[1] + a[1] * b[4] + a[2] * b[7],
  a[0] * b[2] + a[1] * b[5] + a[2] * b[8],
  a[3] * b[0] + a[4] * b[3] + a[5] * b[6],
  a[3] * b[1] + a[4] * b[4] + a[5] * b[7],
  a[3] * b[2] + a[4] * b[5] + a[5] * b[8],
  a[6] * b[0] + a[7] * b[3] + a[8] * b[6],
  a[6] * b[1] + a[7] * b[4] + a[8] * b[7],
  a[6] * b[2] + a[7] * b[5] + a[8] * b[8],
];

/**
 * One random transform as the 8 numbers `tf.image.transform` takes: they map
 * an output pixel (x, y) to the input pixel it is read from.
 */
export function randomTransform(
  width: number,
  height: number,
  options: AugmentOptions,
  random: SeededRandom,
): number[] {
  const rad = Math.PI / 180;
  const theta = (options.rotationRange ?? 0) * rad * random.uniform(-1, 1);
  const tx = (options.widthShiftRange ?? 0) * width * random.uniform(-1, 1);
  const ty = (options.heightShiftRange ?? 0) * height * random.uniform(-1, 1);
  const shear = (options.shearRange ?? 0) * rad * random.uniform(-1, 1);
  const z = options.zoomRange ?? 0;
  const zx = random.uniform(1 - z, 1 + z), zy = random.uniform(1 - z, 1 + z);
  const flip = options.horizontalFlip === true && random.next() < 0.5;
  const cx = (width - 1) / 2, cy = (height - 1) / 2;
  const toCenter: Mat = [1, 0, cx, 0, 1, cy, 0, 0, 1];
  const fromCenter: Mat = [1, 0, -cx, 0, 1, -cy, 0, 0, 1];
  const rotation: Mat = [
    Math.cos(theta),
    -Math.sin(theta),
    0,
    Math.sin(theta),
    Math.cos(theta),
    0,
    0,
    0,
    1,
  ];
  const shift: Mat = [1, 0, tx, 0, 1, ty, 0, 0, 1];
  const shearing: Mat = [1, -Math.sin(shear), 0, 0, Math.cos(shear), 0, 0, 0, 1];
  const zoom: Mat = [zx, 0, 0, 0, zy, 0, 0, 0, 1];
  const mirror: Mat = flip ? [-1, 0, 0, 0, 1, 0, 0, 0, 1] : [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const m = [toCenter, rotation, shift, shearing, zoom, mirror, fromCenter].reduce(mul);
  return [m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7]];
}

/**
 * Augments a batch `[n, h, w, c]`: one random transform per image, seeded.
 * Shapes are kept and values stay within the input's range (nearest fill,
 * bilinear sampling).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { augmentBatch, BOOK_AUGMENTATION, initBackend, SeededRandom, tf } from "convscope";
 * await initBackend();
 * const batch = tf.randomUniform([4, 150, 150, 3], 0, 255) as tf.Tensor4D;
 * const out = augmentBatch(batch, BOOK_AUGMENTATION, new SeededRandom(1));
 * assertEquals(out.shape, [4, 150, 150, 3]);
 * ```
 */
export function augmentBatch(
  batch: tf.Tensor4D,
  options: AugmentOptions,
  random: SeededRandom,
): tf.Tensor4D {
  const [n, height, width] = batch.shape;
  const transforms = Array.from(
    { length: n },
    () => randomTransform(width, height, options, random),
  );
  return tf.tidy(() =>
    tf.image.transform(
      batch,
      tf.tensor2d(transforms, [n, 8]),
      "bilinear",
      options.fillMode ?? "nearest",
      0,
      [height, width],
    )
  );
}
