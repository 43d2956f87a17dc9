/**
 * Figures: rasters plus titles, ticks and colorbars drawn by Skia
 * (`@napi-rs/canvas`), encoded as PNG, saved to files, and shown in Deno's
 * Jupyter kernel as `image/png` + `text/plain`.
 *
 * @module
 */
import {
  type Canvas,
  createCanvas,
  GlobalFonts,
  ImageData,
  type SKRSContext2D,
} from "@napi-rs/canvas";
import { createRequire } from "node:module";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { type Raster, toRgba } from "./raster.ts";
import { JUPYTER_DISPLAY, toBase64 } from "../display/jupyter.ts";

/** The font family figures use: DejaVu Sans, matplotlib's default, bundled from npm. */
export const FONT_FAMILY = "DejaVu Sans";
let fontRegistered = false;

function ensureFont(): void {
  if (fontRegistered) return;
  fontRegistered = true;
  try {
    const require = createRequire(import.meta.url);
    GlobalFonts.registerFromPath(
      require.resolve("dejavu-fonts-ttf/ttf/DejaVuSans.ttf"),
      FONT_FAMILY,
    );
  } catch {
    // System fonts still render text; the bundled one only makes it identical everywhere.
  }
}

/**
 * A finished picture: `png()`, `save(path)`, and rich display in a notebook.
 *
 * @example
 * ```ts
 * import { Figure } from "convscope";
 * const fig = new Figure(40, 20, (ctx) => {
 *   ctx.fillStyle = "teal";
 *   ctx.fillRect(0, 0, 40, 20);
 * }, "a teal box");
 * await fig.save("out/teal.png");
 * ```
 */
export class Figure {
  #png?: Uint8Array;

  /** Creates a figure of `width` × `height` CSS pixels drawn by `draw` on white. */
  constructor(
    readonly width: number,
    readonly height: number,
    readonly draw: (ctx: SKRSContext2D) => void,
    readonly title = "",
  ) {}

  /** Renders onto a new canvas. */
  toCanvas(): Canvas {
    ensureFont();
    const canvas = createCanvas(Math.ceil(this.width), Math.ceil(this.height));
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "white";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    this.draw(ctx);
    return canvas;
  }

  /** PNG bytes (computed once). */
  png(): Uint8Array {
    this.#png ??= new Uint8Array(this.toCanvas().toBuffer("image/png"));
    return this.#png;
  }

  /** Writes the PNG to `path`, creating folders as needed; returns the path. */
  async save(path: string): Promise<string> {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, this.png());
    return path;
  }

  /** A one-line description, shown as `text/plain` and by `console.log`. */
  toString(): string {
    return `Figure(${this.title ? JSON.stringify(this.title) + ", " : ""}${Math.ceil(this.width)}×${
      Math.ceil(this.height)
    } px)`;
  }

  /** The MIME bundle Deno's Jupyter kernel renders. */
  [JUPYTER_DISPLAY](): Record<string, string | unknown> {
    return { "image/png": toBase64(this.png()), "text/plain": this.toString() };
  }

  /** Keeps `console.log(figure)` readable outside a notebook. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }
}

/** Paints a raster at (x, y) in the current transform, pixel for pixel. */
export function drawRaster(ctx: SKRSContext2D, raster: Raster, x: number, y: number): void {
  // putImageData ignores transforms, so go through a canvas that drawImage can place.
  const layer = createCanvas(raster.width, raster.height);
  layer.getContext("2d").putImageData(
    new ImageData(toRgba(raster), raster.width, raster.height),
    0,
    0,
  );
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(layer, Math.round(x), Math.round(y));
}

/** Text styles used by figures. */
export function font(sizePx: number, weight: "normal" | "bold" = "normal"): string {
  return `${weight === "bold" ? "bold " : ""}${sizePx}px "${FONT_FAMILY}", sans-serif`;
}

/** Width of a string in a font (for layout before drawing). */
export function measureText(text: string, fontSpec: string): number {
  ensureFont();
  const ctx = createCanvas(1, 1).getContext("2d");
  ctx.font = fontSpec;
  return ctx.measureText(text).width;
}

/**
 * Places figures side by side (or in rows) into one figure.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { hstack, matshow } from "convscope";
 * const a = matshow({ width: 2, height: 2, data: [0, 1, 2, 3] });
 * const both = hstack([a, a], { gap: 10 });
 * assertEquals(both.width > a.width, true);
 * ```
 */
export function hstack(
  figures: readonly Figure[],
  options: { gap?: number; title?: string; cols?: number } = {},
): Figure {
  const gap = options.gap ?? 16;
  const cols = Math.max(1, Math.min(options.cols ?? figures.length, figures.length));
  const rows = Math.ceil(figures.length / cols);
  const colWidths = Array.from(
    { length: cols },
    (_, c) => Math.max(0, ...figures.filter((_, i) => i % cols === c).map((f) => f.width)),
  );
  const rowHeights = Array.from(
    { length: rows },
    (_, r) => Math.max(0, ...figures.slice(r * cols, (r + 1) * cols).map((f) => f.height)),
  );
  const titleHeight = options.title ? 30 : 0;
  const width = colWidths.reduce((a, b) => a + b, 0) + gap * (cols - 1);
  const height = titleHeight + rowHeights.reduce((a, b) => a + b, 0) + gap * (rows - 1);
  return new Figure(Math.ceil(width), Math.ceil(height), (ctx) => {
    if (options.title) drawTitle(ctx, options.title, width / 2, 21);
    figures.forEach((figure, i) => {
      const c = i % cols, r = Math.floor(i / cols);
      const x = colWidths.slice(0, c).reduce((a, b) => a + b, 0) + c * gap;
      const y = titleHeight + rowHeights.slice(0, r).reduce((a, b) => a + b, 0) + r * gap;
      ctx.save();
      ctx.translate(Math.round(x), Math.round(y));
      figure.draw(ctx);
      ctx.restore();
    });
  }, options.title ?? figures.map((f) => f.title).filter(Boolean).join(" | "));
}

/** A centred title. */
export function drawTitle(
  ctx: SKRSContext2D,
  text: string,
  centerX: number,
  baseline: number,
): void {
  ctx.fillStyle = "black";
  ctx.font = font(16);
  ctx.textAlign = "center";
  ctx.textBaseline = "alphabetic";
  ctx.fillText(text, centerX, baseline);
}
