/**
 * Heatmaps over pictures: the book's superimposed class activation map,
 * and "image | heatmap | overlay" panels.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { colormap } from "./colormaps.ts";
import { type Raster, upscaleNearest } from "./raster.ts";
import { imshow, matshow, rgbTensorToRaster, zoomFor } from "./matshow.ts";
import { imageFigure } from "./axes.ts";
import { type Figure, hstack } from "./figure.ts";
import type { FigureOptions } from "./figure_options.ts";
import { onCpuWhenNeeded } from "../backend/read_back.ts";

/**
 * The heatmap, resized bilinearly to the picture, coloured and blended onto
 * it, as raw pixels.
 *
 * @example
 * ```ts
 * import { initBackend, tf } from "convscope";
 * import { overlayRaster } from "./heatmap.ts";
 * await initBackend();
 * const raster = overlayRaster(tf.zeros([4, 4, 3]), tf.ones([2, 2]));
 * console.log(raster.width, raster.data.length); // 4 48
 * ```
 */
export function overlayRaster(
  image: tf.Tensor,
  heatmap: tf.Tensor,
  options: FigureOptions = {},
): Raster {
  const picture = rgbTensorToRaster(image);
  const { width, height } = picture;
  const heat = onCpuWhenNeeded(() =>
    tf.tidy(() => {
      const h2 = heatmap.rank === 3 ? heatmap.squeeze([0]) : heatmap;
      if (h2.rank !== 2) throw new Error(`heatmap must be 2-D; got shape [${heatmap.shape}]`);
      return tf.image.resizeBilinear(h2.expandDims(-1) as tf.Tensor3D, [height, width]).dataSync();
    })
  );
  const { lut } = colormap(options.cmap ?? "jet");
  const alpha = options.alpha ?? 0.4;
  const blend = options.blend ?? "add";
  const sum = new Float32Array(width * height * 3);
  let lo = Infinity, hi = -Infinity;
  for (let p = 0; p < width * height; p++) {
    // The book's np.uint8(255 * heatmap) index into the colormap.
    const v = heat[p];
    const k = Math.min(255, Math.max(0, Math.floor(255 * (Number.isFinite(v) ? v : 0)))) * 3;
    for (let c = 0; c < 3; c++) {
      const base = picture.data[p * 3 + c];
      const value = blend === "mix"
        ? (1 - alpha) * base + alpha * lut[k + c]
        : base + alpha * lut[k + c];
      sum[p * 3 + c] = value;
      if (value < lo) lo = value;
      if (value > hi) hi = value;
    }
  }
  const data = new Uint8Array(width * height * 3);
  const stretch = blend === "add" && hi > lo;
  for (let i = 0; i < sum.length; i++) {
    const v = stretch ? ((sum[i] - lo) / (hi - lo)) * 255 : sum[i];
    data[i] = v > 255 ? 255 : v < 0 ? 0 : Math.round(v);
  }
  return { width, height, data };
}

/**
 * The book's superimposed picture: heatmap in jet at 40 % over the image.
 *
 * @example
 * ```ts
 * import { gradCam, initBackend, loadBookModel, loadImage, overlayHeatmap, tf } from "convscope";
 * await initBackend();
 * const image = await loadImage("notebooks/images/chelsea.png", { targetSize: [150, 150] });
 * const cam = await gradCam(await loadBookModel(), tf.div(image, 255));
 * await overlayHeatmap(image, cam.heatmap, { title: cam.className }).save("out/cam.png");
 * ```
 */
export function overlayHeatmap(
  image: tf.Tensor,
  heatmap: tf.Tensor,
  options: FigureOptions = {},
): Figure {
  const raster = overlayRaster(image, heatmap, options);
  const zoom = zoomFor(raster.width, raster.height, options.size ?? Math.max(300, raster.width));
  return imageFigure(upscaleNearest(raster, zoom), { title: options.title });
}

/**
 * Three panels side by side: the picture, the heatmap (with a colorbar) and
 * the overlay, at one display size.
 *
 * @example
 * ```ts
 * import { camPanels, gradCam, initBackend, loadBookModel, loadImage, tf } from "convscope";
 * await initBackend();
 * const image = await loadImage("notebooks/images/chelsea.png", { targetSize: [150, 150] });
 * const cam = await gradCam(await loadBookModel(), tf.div(image, 255), { classNames: ["cat", "dog"] });
 * await camPanels(image, cam.heatmap, { title: `Grad-CAM: ${cam.className}` }).save("out/panels.png");
 * ```
 */
export function camPanels(
  image: tf.Tensor,
  heatmap: tf.Tensor,
  options: FigureOptions = {},
): Figure {
  const size = options.size ?? 300;
  return hstack([
    imshow(image, { title: "image", size }),
    matshow(heatmap, {
      title: "heatmap",
      cmap: options.cmap ?? "jet",
      vmin: 0,
      vmax: 1,
      colorbar: true,
      ticks: false,
      size,
    }),
    overlayHeatmap(image, heatmap, { ...options, title: "overlay", size }),
  ], { title: options.title });
}
