/**
 * Pictures side by side: a batch of RGB or grey images as one grid figure
 * (augmented training pictures, optimised inputs, a dataset's first batch).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { imageFigure } from "./axes.ts";
import type { Figure } from "./figure.ts";
import { rgbTensorToRaster } from "./matshow.ts";
import { tileRasters } from "./raster.ts";
import { onCpuWhenNeeded } from "../backend/read_back.ts";

/**
 * One figure of images `[n, h, w, 3]` (or `[n, h, w, 1]`, drawn grey), `cols`
 * per row with `gap` pixels between them. `range` says how pixel values are
 * stored: `"0-1"` (default, a model's input) or `"0-255"`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { imageGrid, initBackend, tf } from "convscope";
 * await initBackend();
 * const fig = imageGrid(tf.ones([6, 8, 8, 3]), { cols: 3, gap: 2, title: "six" });
 * assertEquals(fig.title, "six");
 * ```
 */
export function imageGrid(
  images: tf.Tensor4D,
  options: { cols?: number; gap?: number; title?: string; range?: "0-1" | "0-255" } = {},
): Figure {
  // Splitting reads values synchronously: on webgpu it runs on the cpu backend.
  const rasters = onCpuWhenNeeded(() => {
    const parts = tf.unstack(images);
    const drawn = parts.map((image) => {
      const rgb = image.shape[2] === 1 ? tf.tile(image, [1, 1, 3]) : image;
      const raster = rgbTensorToRaster(rgb, options.range ?? "0-1");
      if (rgb !== image) rgb.dispose();
      return raster;
    });
    tf.dispose(parts);
    return drawn;
  });
  const [n] = images.shape;
  const grid = tileRasters(rasters, {
    cols: Math.min(options.cols ?? 8, n),
    gap: options.gap ?? 4,
  });
  return imageFigure(grid, { title: options.title });
}
