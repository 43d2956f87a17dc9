/**
 * The book's filter-pattern grid: the patterns of a layer's filters, tiled
 * and captioned (Deep Learning with Python 5.4.2).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { findLayer, layerOutputShape, type LayerSelector } from "../models/layers.ts";
import { filterPatterns } from "../methods/filter_patterns.ts";
import type { AscentOptions } from "../methods/ascent_options.ts";
import type { FigureOptions } from "../plot/figure_options.ts";
import { type Raster, tileRasters } from "../plot/raster.ts";
import { imageFigure } from "../plot/axes.ts";
import type { Figure } from "../plot/figure.ts";

/** `[0, 1, 2, 5, 7, 8]` → `"0–2, 5, 7–8"`. */
function compactRanges(values: readonly number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j > i ? `${sorted[i]}–${sorted[j]}` : `${sorted[i]}`);
    i = j + 1;
  }
  return parts.join(", ");
}

/** RMS of the start noise in pixel levels: uniform noise of width w has RMS w/√12. */
function startNoiseLevel(options: AscentOptions): number {
  if (options.init || options.parameterization === "fourier") return 0;
  if (!options.initRange) return 20 / Math.sqrt(12);
  const [lo, hi] = options.initRange;
  const [a, b] = options.inputRange ?? [0, 255];
  return ((hi - lo) * 255) / (b - a) / Math.sqrt(12);
}

function silentCaption(silent: readonly number[], count: number): string {
  const which = compactRanges(silent);
  return `${silent.length}/${count} tiles still noise (the ascent moved them less than the start noise)${
    which.length <= 16 ? `: ${which}` : ""
  }`;
}

/**
 * The book's filter grid: the patterns of the first 64 filters of a layer,
 * 8 per row, 64-px tiles with 5-px margins, computed in batches.
 *
 * @example
 * ```ts
 * import { bookConvnet, filterGrid, initBackend } from "convscope";
 * await initBackend();
 * const fig = await filterGrid(bookConvnet(), "conv2d_1", { filters: 16, cols: 4, steps: 20 });
 * await fig.save("out/filters_conv2d_1.png");
 * ```
 */
export async function filterGrid(
  model: tf.LayersModel,
  layer: LayerSelector,
  options: AscentOptions & FigureOptions & {
    /** How many filters, from `first`. Default 64. */
    filters?: number;
    /** First filter index. Default 0. */
    first?: number;
    /** `"row"` (default) or `"column"` (the 1st edition's `i + j * 8` order). */
    order?: "row" | "column";
  } = {},
): Promise<Figure> {
  const target = findLayer(model, layer);
  const channels = layerOutputShape(target)[3]!;
  const first = options.first ?? 0;
  const count = Math.min(options.filters ?? 64, Math.max(0, channels - first));
  const filters = Array.from({ length: count }, (_, i) => first + i);
  const size = options.inputSize ?? 64;
  const silent: number[] = [];
  const noiseLevel = startNoiseLevel(options);
  const patterns = await filterPatterns(model, target, filters, {
    ...options,
    inputSize: size,
    onFinalActivations(batch, means, change) {
      // A tile the ascent moved less than the start noise still looks like noise.
      batch.forEach((f, i) => change[i] < noiseLevel && silent.push(f));
      options.onFinalActivations?.(batch, means, change);
    },
  });
  const [, h, w, c] = patterns.shape;
  const pixels = await patterns.data();
  patterns.dispose();
  const tiles: Raster[] = filters.map((_, i) => {
    const data = new Uint8Array(h * w * 3);
    for (let p = 0; p < h * w; p++) {
      for (let k = 0; k < 3; k++) data[p * 3 + k] = pixels[(i * h * w + p) * c + (c === 3 ? k : 0)];
    }
    return { width: w, height: h, data };
  });
  const grid = tileRasters(tiles, {
    cols: options.cols ?? 8,
    gap: options.gap ?? 5,
    background: [0, 0, 0],
    order: options.order,
  });
  return imageFigure(grid, {
    title: options.title ?? `${target.name}: filters ${first}–${first + count - 1}`,
    ...(silent.length > 0 ? { caption: silentCaption(silent, count) } : {}),
  });
}
