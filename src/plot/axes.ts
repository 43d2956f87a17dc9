/**
 * One image in a frame, with optional title, matplotlib-style ticks and a
 * colorbar: the layout shared by matshow, imshow and heatmaps.
 *
 * @module
 */
import type { SKRSContext2D } from "@napi-rs/canvas";
import { type Colormap, colormap, type ColormapName } from "./colormaps.ts";
import { drawRaster, drawTitle, Figure, font, measureText } from "./figure.ts";
import type { Raster } from "./raster.ts";

/** Where tick labels go. */
export type TickPosition = "top-left" | "bottom-left" | "none";

/** Layout of {@linkcode imageFigure}. */
export interface ImageFigureOptions {
  /** Text above the image. */
  title?: string;
  /** A smaller line of text below the image (e.g. what to keep in mind reading it). */
  caption?: string;
  /** Data extent the ticks label: columns and rows (default: raster size). */
  extent?: { width: number; height: number };
  /** `"top-left"` (matshow), `"bottom-left"` (imshow) or `"none"` (axis off). */
  ticks?: TickPosition;
  /** A colorbar on the right for this colormap and value range. */
  colorbar?: { cmap: ColormapName | Colormap; vmin: number; vmax: number };
}

/** Up to ~6 round tick values in [0, max]. */
export function niceTicks(max: number, target = 6): number[] {
  if (!(max > 0)) return [0];
  const raw = max / target;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ??
    10 * magnitude;
  const ticks: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function formatTick(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1);
  return Number(v.toPrecision(3)).toString();
}

const TICK_FONT = 11;
const CAPTION_FONT = 13;
const TICK_LEN = 4;

/**
 * Lays out one raster with a title, ticks and a colorbar.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { imageFigure } from "./axes.ts";
 * import { colorize } from "./raster.ts";
 * const raster = colorize({ width: 3, height: 1, data: [0, 1, 2] });
 * const fig = imageFigure(raster, { title: "three values", ticks: "none" });
 * assertEquals(fig.height > raster.height, true);
 * ```
 */
export function imageFigure(raster: Raster, options: ImageFigureOptions = {}): Figure {
  const ticks = options.ticks ?? "none";
  const extent = options.extent ?? { width: raster.width, height: raster.height };
  const xTicks = ticks === "none" ? [] : niceTicks(extent.width - 1);
  const yTicks = ticks === "none" ? [] : niceTicks(extent.height - 1);
  const tickFont = font(TICK_FONT);
  const yLabelWidth = ticks === "none"
    ? 0
    : Math.max(...yTicks.map((t) => measureText(formatTick(t), tickFont))) + TICK_LEN + 4;
  const titleHeight = options.title ? 28 : 0;
  const tickBand = ticks === "none" ? 0 : TICK_FONT + TICK_LEN + 6;
  const pad = 8;
  const left = pad + yLabelWidth;
  const top = pad + titleHeight + (ticks === "top-left" ? tickBand : 0);
  const bottomBand = ticks === "bottom-left" ? tickBand : 0;
  const bar = options.colorbar;
  const barWidth = bar ? 14 : 0;
  const barGap = bar ? 14 : 0;
  let barLabels: number[] = [];
  let barLabelWidth = 0;
  if (bar) {
    barLabels = colorbarTicks(bar.vmin, bar.vmax);
    barLabelWidth = Math.max(...barLabels.map((v) => measureText(formatTick(v), tickFont))) +
      TICK_LEN + 4;
  }
  // A title wider than the image widens the figure (centred over the image) rather than being cut.
  const titleWidth = Math.max(
    options.title ? measureText(options.title, font(16)) + 2 * pad : 0,
    options.caption ? measureText(options.caption, font(CAPTION_FONT)) + 2 * pad : 0,
  );
  const contentWidth = left + raster.width + barGap + barWidth + barLabelWidth + pad;
  const shift = Math.max(0, Math.ceil((titleWidth - contentWidth) / 2));
  const width = Math.max(contentWidth, titleWidth);
  const captionHeight = options.caption ? CAPTION_FONT + 10 : 0;
  const height = top + raster.height + bottomBand + captionHeight + pad;
  return new Figure(Math.ceil(width), Math.ceil(height), (ctx) => {
    ctx.save();
    ctx.translate(shift, 0);
    if (options.title) {
      drawTitle(ctx, options.title, left + raster.width / 2, pad + 18);
    }
    drawRaster(ctx, raster, left, top);
    if (ticks !== "none") {
      ctx.strokeStyle = "black";
      ctx.lineWidth = 1;
      ctx.strokeRect(left - 0.5, top - 0.5, raster.width + 1, raster.height + 1);
      drawAxisTicks(ctx, {
        left,
        top,
        width: raster.width,
        height: raster.height,
        extent,
        xTicks,
        yTicks,
        xAtTop: ticks === "top-left",
      });
    }
    if (options.caption) {
      ctx.font = font(CAPTION_FONT);
      ctx.fillStyle = "#444";
      ctx.textAlign = "center";
      ctx.fillText(
        options.caption,
        left + raster.width / 2,
        top + raster.height + bottomBand + CAPTION_FONT + 6,
      );
    }
    if (bar) {
      drawColorbar(ctx, {
        x: left + raster.width + barGap,
        y: top,
        width: barWidth,
        height: raster.height,
        ...bar,
        labels: barLabels,
      });
    }
    ctx.restore();
  }, options.title ?? "");
}

function drawAxisTicks(
  ctx: SKRSContext2D,
  a: {
    left: number;
    top: number;
    width: number;
    height: number;
    extent: { width: number; height: number };
    xTicks: number[];
    yTicks: number[];
    xAtTop: boolean;
  },
): void {
  ctx.fillStyle = "black";
  ctx.font = font(TICK_FONT);
  // Pixel centres: data column c sits at (c + 0.5) / extent of the raster width.
  const sx = a.width / a.extent.width, sy = a.height / a.extent.height;
  ctx.textAlign = "center";
  ctx.textBaseline = a.xAtTop ? "bottom" : "top";
  for (const t of a.xTicks) {
    const x = a.left + (t + 0.5) * sx;
    const y0 = a.xAtTop ? a.top : a.top + a.height;
    const dir = a.xAtTop ? -1 : 1;
    ctx.beginPath();
    ctx.moveTo(Math.round(x) + 0.5, y0);
    ctx.lineTo(Math.round(x) + 0.5, y0 + dir * TICK_LEN);
    ctx.stroke();
    ctx.fillText(formatTick(t), x, y0 + dir * (TICK_LEN + 2));
  }
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const t of a.yTicks) {
    const y = a.top + (t + 0.5) * sy;
    ctx.beginPath();
    ctx.moveTo(a.left, Math.round(y) + 0.5);
    ctx.lineTo(a.left - TICK_LEN, Math.round(y) + 0.5);
    ctx.stroke();
    ctx.fillText(formatTick(t), a.left - TICK_LEN - 2, y);
  }
}

function colorbarTicks(vmin: number, vmax: number): number[] {
  if (!(vmax > vmin)) return [vmin];
  const span = vmax - vmin;
  const raw = span / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ??
    10 * magnitude;
  const ticks: number[] = [];
  for (let v = Math.ceil(vmin / step) * step; v <= vmax + step * 1e-9; v += step) {
    ticks.push(Number(v.toPrecision(12)));
  }
  return ticks;
}

function drawColorbar(
  ctx: SKRSContext2D,
  b: {
    x: number;
    y: number;
    width: number;
    height: number;
    cmap: ColormapName | Colormap;
    vmin: number;
    vmax: number;
    labels: number[];
  },
): void {
  const { lut } = colormap(b.cmap);
  const h = Math.round(b.height);
  const data = new Uint8Array(b.width * h * 3);
  for (let row = 0; row < h; row++) {
    const k = Math.min(255, Math.floor(((h - 1 - row) / Math.max(1, h - 1)) * 256)) * 3;
    for (let col = 0; col < b.width; col++) {
      data.set(lut.subarray(k, k + 3), (row * b.width + col) * 3);
    }
  }
  drawRaster(ctx, { width: b.width, height: h, data }, b.x, b.y);
  ctx.strokeStyle = "black";
  ctx.lineWidth = 1;
  ctx.strokeRect(b.x - 0.5, b.y - 0.5, b.width + 1, h + 1);
  ctx.fillStyle = "black";
  ctx.font = font(TICK_FONT);
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  const span = b.vmax - b.vmin;
  for (const v of b.labels) {
    const y = span > 0 ? b.y + (1 - (v - b.vmin) / span) * h : b.y + h / 2;
    ctx.beginPath();
    ctx.moveTo(b.x + b.width, Math.round(y) + 0.5);
    ctx.lineTo(b.x + b.width + TICK_LEN, Math.round(y) + 0.5);
    ctx.stroke();
    ctx.fillText(formatTick(v), b.x + b.width + TICK_LEN + 2, y);
  }
}
