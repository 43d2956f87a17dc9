/**
 * RGB rasters in typed arrays: the pixels every figure is made of. Nothing
 * here touches a canvas; figures hand finished rasters to Skia once.
 *
 * @module
 */
import { applyColormap } from "./colormaps.ts";

type ColormapOptions = NonNullable<Parameters<typeof applyColormap>[1]>;

/** An 8-bit RGB image, row-major, three bytes per pixel. */
export interface Raster {
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
  /** `width * height * 3` bytes. */
  readonly data: Uint8Array;
}

/** A 2-D array of scalars, row-major. */
export interface Matrix {
  /** Rows. */
  readonly height: number;
  /** Columns. */
  readonly width: number;
  /** `height * width` values. */
  readonly data: ArrayLike<number>;
}

/**
 * Makes an empty raster filled with one colour.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { filledRaster } from "./raster.ts";
 * const white = filledRaster(4, 2, [255, 255, 255]);
 * assertEquals(white.data.length, 24);
 * ```
 */
export function filledRaster(
  width: number,
  height: number,
  rgb: readonly [number, number, number] = [255, 255, 255],
): Raster {
  const data = new Uint8Array(width * height * 3);
  if (rgb[0] !== 0 || rgb[1] !== 0 || rgb[2] !== 0) {
    for (let i = 0; i < data.length; i += 3) {
      data[i] = rgb[0];
      data[i + 1] = rgb[1];
      data[i + 2] = rgb[2];
    }
  }
  return { width, height, data };
}

/**
 * Colours a matrix with a colormap.
 *
 * @example
 * ```ts
 * import { colorize } from "./raster.ts";
 * const r = colorize({ width: 2, height: 1, data: [0, 1] }, { cmap: "gray" });
 * console.log(r.data); // Uint8Array [0, 0, 0, 255, 255, 255]
 * ```
 */
export function colorize(matrix: Matrix, options: ColormapOptions = {}): Raster {
  return {
    width: matrix.width,
    height: matrix.height,
    data: applyColormap(matrix.data, options),
  };
}

/**
 * Enlarges a raster by an integer factor, each pixel becoming a block:
 * small maps (7×7) stay crisp because browsers would blur a scaled image.
 *
 * @example
 * ```ts
 * import { upscaleNearest } from "./raster.ts";
 * const big = upscaleNearest({ width: 1, height: 1, data: new Uint8Array([1, 2, 3]) }, 2);
 * console.log(big.width, big.height); // 2 2
 * ```
 */
export function upscaleNearest(raster: Raster, factor: number): Raster {
  const k = Math.max(1, Math.floor(factor));
  if (k === 1) return raster;
  const width = raster.width * k, height = raster.height * k;
  const data = new Uint8Array(width * height * 3);
  const src = raster.data;
  for (let y = 0; y < raster.height; y++) {
    const row = data.subarray(y * k * width * 3, (y * k + 1) * width * 3);
    for (let x = 0; x < raster.width; x++) {
      const s = (y * raster.width + x) * 3;
      for (let j = 0; j < k; j++) {
        const o = (x * k + j) * 3;
        row[o] = src[s];
        row[o + 1] = src[s + 1];
        row[o + 2] = src[s + 2];
      }
    }
    for (let j = 1; j < k; j++) {
      data.copyWithin((y * k + j) * width * 3, y * k * width * 3, (y * k + 1) * width * 3);
    }
  }
  return { width, height, data };
}

/** Copies `tile` into `target` with its top-left corner at (x, y). */
export function blit(target: Raster, tile: Raster, x: number, y: number): void {
  const rowBytes = tile.width * 3;
  for (let r = 0; r < tile.height; r++) {
    const ty = y + r;
    if (ty < 0 || ty >= target.height) continue;
    const start = (ty * target.width + x) * 3;
    target.data.set(tile.data.subarray(r * rowBytes, (r + 1) * rowBytes), start);
  }
}

/** How {@linkcode tileRasters} lays tiles out. */
export interface TileOptions {
  /** Tiles per row. Default: enough for a square-ish grid. */
  cols?: number;
  /** Pixels between tiles. Default 0. */
  gap?: number;
  /** Pixels around the grid. Default 0. */
  margin?: number;
  /** Colour of gaps, margins and empty cells. Default white. */
  background?: readonly [number, number, number];
  /** `"row"` (default): tile i at row ⌊i/cols⌋. `"column"`: tile i at column ⌊i/rows⌋ (the book's 1st-edition filter grid). */
  order?: "row" | "column";
}

/**
 * Tiles equally sized rasters into one grid.
 *
 * @example
 * ```ts
 * import { filledRaster, tileRasters } from "./raster.ts";
 * const tiles = Array.from({ length: 5 }, () => filledRaster(8, 8, [0, 0, 0]));
 * const grid = tileRasters(tiles, { cols: 4, gap: 1 });
 * console.log(grid.width, grid.height); // 35 17
 * ```
 */
export function tileRasters(tiles: readonly Raster[], options: TileOptions = {}): Raster {
  if (tiles.length === 0) throw new Error("tileRasters: no tiles");
  const { width: tw, height: th } = tiles[0];
  for (const t of tiles) {
    if (t.width !== tw || t.height !== th) {
      throw new Error(
        `tileRasters: tiles differ in size (${t.width}×${t.height} vs ${tw}×${th})`,
      );
    }
  }
  const cols = options.cols ?? Math.ceil(Math.sqrt(tiles.length));
  const rows = Math.ceil(tiles.length / cols);
  const gap = options.gap ?? 0, margin = options.margin ?? 0;
  const grid = filledRaster(
    2 * margin + cols * tw + (cols - 1) * gap,
    2 * margin + rows * th + (rows - 1) * gap,
    options.background ?? [255, 255, 255],
  );
  tiles.forEach((tile, i) => {
    const [row, col] = options.order === "column"
      ? [i % rows, Math.floor(i / rows)]
      : [Math.floor(i / cols), i % cols];
    blit(grid, tile, margin + col * (tw + gap), margin + row * (th + gap));
  });
  return grid;
}

/**
 * Turns RGB bytes into the RGBA a canvas wants (opaque).
 */
export function toRgba(raster: Raster): Uint8ClampedArray {
  const n = raster.width * raster.height;
  const rgba = new Uint8ClampedArray(n * 4);
  const src = raster.data;
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    const s = i * 3;
    rgba[j] = src[s];
    rgba[j + 1] = src[s + 1];
    rgba[j + 2] = src[s + 2];
    rgba[j + 3] = 255;
  }
  return rgba;
}
