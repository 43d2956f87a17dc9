/**
 * Every channel of a layer's activation, tiled in rows: the book's
 * "feature-map grid" (Deep Learning with Python, 5.4.1).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { colormap } from "./colormaps.ts";
import { type Raster, tileRasters, upscaleNearest } from "./raster.ts";
import { imageFigure } from "./axes.ts";
import type { Figure } from "./figure.ts";
import type { FigureOptions } from "./figure_options.ts";

/**
 * Maps one layer's activation (`[1, h, w, c]` or `[h, w, c]`) to 0–255 bytes
 * per channel, channel-major: the book's standardisation by default.
 *
 * @example
 * ```ts
 * import { initBackend, tf } from "convscope";
 * import { normalizeChannels } from "./feature_grid.ts";
 * await initBackend();
 * const { bytes } = normalizeChannels(tf.zeros([1, 2, 2, 3]));
 * console.log(bytes[0]); // 0: a channel that is constant on this input is drawn dark
 * ```
 */
export function normalizeChannels(
  activation: tf.Tensor,
  normalize: "standardize" | "minmax" | "none" = "standardize",
  channels?: readonly number[],
): { height: number; width: number; channels: number[]; bytes: Uint8Array; silent: number[] } {
  const shape = activation.shape.length === 4 ? activation.shape.slice(1) : activation.shape;
  if (shape.length !== 3 || (activation.shape.length === 4 && activation.shape[0] !== 1)) {
    throw new Error(
      `featureGrid needs one image's activation [1, h, w, c] or [h, w, c]; got [${activation.shape}]`,
    );
  }
  const [height, width, depth] = shape;
  const picked = channels ? [...channels] : Array.from({ length: depth }, (_, i) => i);
  for (const c of picked) {
    if (!Number.isInteger(c) || c < 0 || c >= depth) {
      throw new Error(
        `channel ${c} is out of range: this layer has ${depth} channels (0–${depth - 1})`,
      );
    }
  }
  const values = activation.dataSync();
  const n = height * width;
  const bytes = new Uint8Array(picked.length * n);
  const silent: number[] = [];
  let globalLo = Infinity, globalHi = -Infinity;
  if (normalize === "none") {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v < globalLo) globalLo = v;
      if (v > globalHi) globalHi = v;
    }
  }
  picked.forEach((c, k) => {
    let sum = 0, sumSq = 0, lo = Infinity, hi = -Infinity;
    for (let p = 0; p < n; p++) {
      const v = values[p * depth + c];
      sum += v;
      sumSq += v * v;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const mean = sum / n;
    const std = Math.sqrt(Math.max(0, sumSq / n - mean * mean));
    let scale: number, offset: number;
    if (normalize === "standardize") {
      // A constant channel has std 0: the book's (x − mean) / std is NaN there,
      // which NumPy's astype("uint8") turns into 0, so it is drawn dark.
      const flat = !(std > 1e-12 * Math.max(1, Math.abs(mean)));
      if (flat) silent.push(c);
      scale = flat ? 0 : 64 / std;
      offset = flat ? 0 : 128 - mean * scale;
    } else {
      const [a, b] = normalize === "minmax" ? [lo, hi] : [globalLo, globalHi];
      scale = b > a ? 255 / (b - a) : 0;
      offset = b > a ? -a * scale : normalize === "minmax" ? 128 : 0;
    }
    const out = bytes.subarray(k * n, (k + 1) * n);
    for (let p = 0; p < n; p++) {
      const v = values[p * depth + c] * scale + offset;
      // Clip then truncate, as numpy's clip(0, 255).astype("uint8") does; NaN → 0.
      out[p] = v >= 255 ? 255 : v > 0 ? v : 0;
    }
  });
  return { height, width, channels: picked, bytes, silent };
}

/**
 * Tiles every channel of an activation into one figure, 16 per row, each
 * standardised and coloured with viridis, titled with the layer name.
 *
 * @example
 * ```ts
 * import { bookConvnet, featureGrid, getActivations, initBackend, loadImage } from "convscope";
 * await initBackend();
 * const model = bookConvnet();
 * const image = await loadImage("notebooks/images/chelsea.png", { targetSize: [150, 150] });
 * const [first] = await getActivations(model, image.div(255), ["conv2d_1"]);
 * await featureGrid(first.activation, { title: first.name }).save("out/conv2d_1.png");
 * ```
 */
export function featureGrid(activation: tf.Tensor, options: FigureOptions = {}): Figure {
  const { height, width, channels, bytes, silent } = normalizeChannels(
    activation,
    options.normalize ?? "standardize",
    options.channels,
  );
  const { lut } = colormap(options.cmap ?? "viridis");
  const n = height * width;
  const tiles: Raster[] = channels.map((_, k) => {
    const data = new Uint8Array(n * 3);
    for (let p = 0; p < n; p++) {
      const l = bytes[k * n + p] * 3;
      data[p * 3] = lut[l];
      data[p * 3 + 1] = lut[l + 1];
      data[p * 3 + 2] = lut[l + 2];
    }
    return { width, height, data };
  });
  const zoom = Math.max(1, Math.ceil((options.minTileSize ?? 64) / Math.max(width, height)));
  const grid = tileRasters(tiles.map((t) => upscaleNearest(t, zoom)), {
    cols: Math.min(options.cols ?? 16, tiles.length),
    gap: options.gap ?? 1,
  });
  const count = silent.length > 0 ? `${silent.length} of ${channels.length} silent (dark)` : "";
  const title = options.title && count ? `${options.title} · ${count}` : options.title ?? count;
  return imageFigure(grid, { title, ticks: "none" });
}
