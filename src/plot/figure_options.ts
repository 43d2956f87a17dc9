/**
 * One options vocabulary for every figure, as Observable Plot has one across
 * its marks: a name means the same thing wherever it appears, and each
 * function reads the options that apply to it.
 *
 * @module
 */
import type { Colormap, ColormapName } from "./colormaps.ts";

/** What a figure looks like. Each figure function reads the options that apply to it. */
export interface FigureOptions {
  /** Text above the figure. */
  title?: string;
  /** Displayed size of the image (or of each tile), pixels; images are enlarged by whole pixels. */
  size?: number;
  /** Tiles per row, in grids. */
  cols?: number;
  /** Pixels between tiles, in grids. */
  gap?: number;
  /** Colormap of single-channel data: a name (`"viridis"`, `"magma"`, `"jet"`, …) or a table. */
  cmap?: ColormapName | Colormap;
  /** Value drawn at the bottom of the colormap. Default: the data's minimum. */
  vmin?: number;
  /** Value drawn at the top of the colormap. Default: the data's maximum. */
  vmax?: number;
  /** Colour of NaN and infinite values (matplotlib's "bad"). Default magenta. */
  bad?: readonly [number, number, number];
  /** A colorbar to the right of the image. */
  colorbar?: boolean;
  /** Pixel ticks: on top and left for matshow (default), bottom and left for imshow (default off). */
  ticks?: boolean;
  /**
   * Value range of RGB images: `"auto"` (0–255 when any value exceeds 1, else
   * 0–1), `"0-1"` or `"0-255"`. Values outside are clipped.
   */
  range?: "auto" | "0-1" | "0-255";
  /** Weight of a heatmap over its picture, 0–1 (overlays). Default 0.4. */
  alpha?: number;
  /** How a heatmap is laid over its picture: `"add"` (the book's), `"saturate"` or `"mix"`. */
  blend?: "add" | "saturate" | "mix";
  /**
   * How a feature map becomes pixels (grids of channels): `"standardize"`
   * (the book's `(x − mean) / std · 64 + 128`; a channel silent on the input
   * is drawn dark and counted in the title), `"minmax"` (each channel
   * stretched) or `"none"` (one scale for the layer).
   */
  normalize?: "standardize" | "minmax" | "none";
  /** Small maps are enlarged by whole pixels until tiles are at least this wide (grids of channels). Default 64. */
  minTileSize?: number;
  /** Only these channels (grids of channels). Default: all. */
  channels?: readonly number[];
}
