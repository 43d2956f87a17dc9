/**
 * `matshow` and `imshow`, matplotlib's two ways to look at an array.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { finiteRange } from "./colormaps.ts";
import { colorize, type Matrix, type Raster, upscaleNearest } from "./raster.ts";
import { imageFigure } from "./axes.ts";
import type { Figure } from "./figure.ts";
import type { FigureOptions } from "./figure_options.ts";

/**
 * Reads a 2-D matrix from a tensor (`[h, w]`, or `[1, h, w]`, `[h, w, 1]`,
 * `[1, h, w, 1]`), nested arrays, or a {@linkcode Matrix}.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { toMatrix } from "./matshow.ts";
 * assertEquals(toMatrix([[1, 2], [3, 4]]).width, 2);
 * ```
 */
export function toMatrix(data: Matrix | tf.Tensor | readonly (readonly number[])[]): Matrix {
  if (data instanceof tf.Tensor) {
    let shape = data.shape;
    if (shape.length === 4 && shape[0] === 1 && shape[3] === 1) shape = [shape[1], shape[2]];
    else if (shape.length === 3 && shape[0] === 1) shape = [shape[1], shape[2]];
    else if (shape.length === 3 && shape[2] === 1) shape = [shape[0], shape[1]];
    else if (shape.length === 1) shape = [1, shape[0]];
    if (shape.length !== 2) {
      throw new Error(
        `matshow needs a 2-D array; got a tensor of shape [${data.shape}]. ` +
          "Pick one channel first, e.g. channel(activation, 3).",
      );
    }
    return { height: shape[0], width: shape[1], data: data.dataSync() as Float32Array };
  }
  if (Array.isArray(data)) {
    const rows = data as readonly (readonly number[])[];
    const width = rows[0]?.length ?? 0;
    if (rows.some((r) => r.length !== width)) throw new Error("matshow: rows differ in length");
    return { height: rows.length, width, data: Float64Array.from(rows.flat()) };
  }
  const m = data as Matrix;
  if (m.data.length !== m.width * m.height) {
    throw new Error(
      `matshow: ${m.data.length} values do not fill ${m.height}×${m.width}`,
    );
  }
  return m;
}

/** The integer zoom that brings the longer side closest to `size` without going under 1. */
export function zoomFor(width: number, height: number, size: number): number {
  return Math.max(1, Math.round(size / Math.max(width, height)));
}

/**
 * Shows a 2-D array as a colour-mapped image, like `plt.matshow`: ticks on
 * top and left, nearest-neighbour pixels, viridis.
 *
 * @example
 * ```ts
 * import { matshow } from "convscope";
 * const fig = matshow([[0, 1], [2, 3]], { title: "four values", colorbar: true });
 * await fig.save("out/matshow.png");
 * ```
 */
export function matshow(
  data: Matrix | tf.Tensor | readonly (readonly number[])[],
  options: FigureOptions = {},
): Figure {
  const matrix = toMatrix(data);
  const [lo, hi] = finiteRange(matrix.data);
  const vmin = options.vmin ?? lo, vmax = options.vmax ?? hi;
  const cmap = options.cmap ?? "viridis";
  const raster = upscaleNearest(
    colorize(matrix, { cmap, vmin, vmax, bad: options.bad }),
    zoomFor(matrix.width, matrix.height, options.size ?? 400),
  );
  return imageFigure(raster, {
    title: options.title,
    extent: { width: matrix.width, height: matrix.height },
    ticks: options.ticks === false ? "none" : "top-left",
    colorbar: options.colorbar ? { cmap, vmin, vmax } : undefined,
  });
}

/**
 * Converts an RGB (`[h, w, 3]` or `[1, h, w, 3]`) tensor to a raster, clipping.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs";
 * import { rgbTensorToRaster } from "./matshow.ts";
 * const r = rgbTensorToRaster(tf.ones([2, 2, 3]), "0-1");
 * assertEquals(r.data[0], 255);
 * ```
 */
export function rgbTensorToRaster(
  image: tf.Tensor,
  range: "auto" | "0-1" | "0-255" = "auto",
): Raster {
  const shape = image.shape.length === 4 && image.shape[0] === 1
    ? image.shape.slice(1)
    : image.shape;
  if (shape.length !== 3 || shape[2] !== 3) {
    throw new Error(`imshow needs an RGB image [h, w, 3]; got shape [${image.shape}]`);
  }
  const [height, width] = shape;
  const values = image.dataSync();
  let scale = range === "0-1" ? 255 : 1;
  if (range === "auto") {
    const [, hi] = finiteRange(values);
    scale = hi <= 1 && image.dtype === "float32" ? 255 : 1;
  }
  const data = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] * scale;
    data[i] = v > 255 ? 255 : v > 0 ? Math.round(v) : 0;
  }
  return { width, height, data };
}

/**
 * Shows an image: RGB tensors as they are, 2-D arrays through a colormap,
 * like `plt.imshow`; axes off by default.
 *
 * @example
 * ```ts
 * import { imshow, initBackend, loadImage } from "convscope";
 * await initBackend();
 * const cat = await loadImage("notebooks/images/chelsea.png", { targetSize: [150, 150] });
 * await imshow(cat, { title: "input" }).save("out/input.png");
 * ```
 */
export function imshow(
  image: tf.Tensor | Raster | (Matrix | tf.Tensor | readonly (readonly number[])[]),
  options: FigureOptions = {},
): Figure {
  const ticks = options.ticks ? "bottom-left" : "none";
  const isRgbTensor = image instanceof tf.Tensor && image.shape[image.shape.length - 1] === 3 &&
    image.shape.length >= 3;
  if (isRgbTensor || isRaster(image)) {
    const raster = isRaster(image) ? image : rgbTensorToRaster(image as tf.Tensor, options.range);
    const zoom = options.size ? zoomFor(raster.width, raster.height, options.size) : 1;
    return imageFigure(upscaleNearest(raster, zoom), {
      title: options.title,
      extent: { width: raster.width, height: raster.height },
      ticks,
    });
  }
  const matrix = toMatrix(image as (Matrix | tf.Tensor | readonly (readonly number[])[]));
  const [lo, hi] = finiteRange(matrix.data);
  const vmin = options.vmin ?? lo, vmax = options.vmax ?? hi;
  const cmap = options.cmap ?? "viridis";
  const zoom = zoomFor(matrix.width, matrix.height, options.size ?? 400);
  return imageFigure(
    upscaleNearest(colorize(matrix, { cmap, vmin, vmax, bad: options.bad }), zoom),
    {
      title: options.title,
      extent: { width: matrix.width, height: matrix.height },
      ticks,
      colorbar: options.colorbar ? { cmap, vmin, vmax } : undefined,
    },
  );
}

function isRaster(x: unknown): x is Raster {
  return typeof x === "object" && x !== null && !(x instanceof tf.Tensor) &&
    (x as Raster).data instanceof Uint8Array && "width" in x && "height" in x &&
    (x as Raster).data.length === (x as Raster).width * (x as Raster).height * 3;
}
