/**
 * Charts with Observable Plot, rendered headless (linkedom) to SVG and
 * rasterised by Skia to PNG, so they show in untrusted notebooks too.
 *
 * @module
 */
import * as Plot from "@observablehq/plot";
import { parseHTML } from "linkedom";
import { loadImage as skiaLoadImage } from "@napi-rs/canvas";
import { Buffer } from "node:buffer";
import { Figure, FONT_FAMILY } from "./figure.ts";
import { JUPYTER_DISPLAY, toBase64 } from "../display/jupyter.ts";
import type { History } from "../models/history.ts";

/** A figure that is also an SVG document. */
export class ChartFigure extends Figure {
  /** Wraps an SVG string and its rasterisation. */
  constructor(
    readonly svgText: string,
    width: number,
    height: number,
    draw: Figure["draw"],
    title = "",
  ) {
    super(width, height, draw, title);
  }

  /** The SVG source. */
  svg(): string {
    return this.svgText;
  }

  /** PNG first (it always renders), SVG alongside. */
  override [JUPYTER_DISPLAY](): Record<string, string | unknown> {
    return {
      "image/png": toBase64(this.png()),
      "image/svg+xml": this.svgText,
      "text/plain": this.toString(),
    };
  }
}

/** Plot's default text size, used when the options set none in pixels. */
const PLOT_FONT_SIZE_PX = 10;

function fontSizePx(style: Plot.PlotOptions["style"]): number {
  const size = typeof style === "object" && style !== null
    ? (style as { fontSize?: unknown }).fontSize
    : undefined;
  const match = typeof size === "string" ? /^([\d.]+)px$/.exec(size) : null;
  return match ? Number(match[1]) : typeof size === "number" ? size : PLOT_FONT_SIZE_PX;
}

/**
 * Plot offsets its tick labels in `em`, which Skia's SVG renderer reads as
 * pixels (x labels then sit on their tick marks); resolve them first.
 */
function emToPixels(svg: string, fontSize: number): string {
  return svg.replace(
    / (x|y|dx|dy)="(-?[\d.]+)em"/g,
    (_, attribute, value) => ` ${attribute}="${+(Number(value) * fontSize).toFixed(2)}"`,
  );
}

/**
 * Renders Observable Plot options headless and returns a figure (PNG + SVG).
 *
 * @example
 * ```ts
 * import * as Plot from "@observablehq/plot";
 * import { plotChart } from "convscope";
 * const fig = await plotChart({ marks: [Plot.lineY([1, 3, 2])], width: 400, height: 200 });
 * await fig.save("out/line.png");
 * ```
 */
export async function plotChart(options: Plot.PlotOptions, title = ""): Promise<ChartFigure> {
  const { document } = parseHTML("<!doctype html><html><body></body></html>") as unknown as {
    document: unknown;
  };
  const node = Plot.plot(
    { ...options, document } as Plot.PlotOptions & { document: unknown },
  ) as unknown as {
    outerHTML: string;
    tagName: string;
  };
  let svg = node.outerHTML;
  if (node.tagName.toLowerCase() !== "svg") {
    throw new Error(
      "plotChart: legends and captions (figure output) are not supported; use a plain plot",
    );
  }
  if (!svg.includes("xmlns=")) svg = svg.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"');
  svg = svg.replace(
    /font-family="system-ui, sans-serif"/g,
    `font-family="${FONT_FAMILY}, sans-serif"`,
  );
  svg = emToPixels(svg, fontSizePx(options.style));
  const width = Number(options.width ?? 640), height = Number(options.height ?? 400);
  const scale = 2;
  // Rasterise at the final resolution (scaling a 1× raster blurs hairlines unevenly).
  const hiDpi = `<svg xmlns="http://www.w3.org/2000/svg" width="${width * scale}" height="${
    height * scale
  }"><g transform="scale(${scale})">${svg}</g></svg>`;
  const image = await skiaLoadImage(Buffer.from(hiDpi));
  return new ChartFigure(svg, width * scale, height * scale, (ctx) => {
    ctx.fillStyle = "white";
    ctx.fillRect(0, 0, width * scale, height * scale);
    ctx.drawImage(image, 0, 0);
  }, title);
}

/**
 * The book's two training figures side by side: training and validation
 * accuracy, and loss, per epoch.
 *
 * @example
 * ```ts
 * import { plotHistory } from "convscope";
 * const fig = await plotHistory({ loss: [0.7, 0.5], acc: [0.5, 0.75], val_loss: [0.69, 0.6], val_acc: [0.5, 0.7], seconds: [1, 1] });
 * await fig.save("out/history.png");
 * ```
 */
export async function plotHistory(
  history: History,
  options: { width?: number } = {},
): Promise<ChartFigure> {
  const width = options.width ?? 420;
  const rows = (metric: "acc" | "loss") => [
    ...history[metric].map((v, i) => ({ epoch: i + 1, value: v, series: "training" })),
    ...history[`val_${metric}`].map((v, i) => ({ epoch: i + 1, value: v, series: "validation" })),
  ];
  const panel = (metric: "acc" | "loss") =>
    plotChart({
      width,
      height: 300,
      marginLeft: 50,
      marginTop: 56,
      style: { fontFamily: FONT_FAMILY, fontSize: "12px" },
      x: { label: "epoch" },
      // The panel title names the quantity; Plot's own y label would sit in the title's place.
      y: { label: null, ...(metric === "acc" ? { domain: [0.4, 1] } : {}) },
      color: { domain: ["training", "validation"], range: ["#1f77b4", "#ff7f0e"] },
      marks: [
        // Explicit colours: Skia's SVG renderer drops Plot's grid stroke-opacity.
        Plot.gridX({ stroke: "#e6e6e6", strokeOpacity: 1 }),
        Plot.gridY({ stroke: "#e6e6e6", strokeOpacity: 1 }),
        Plot.dot(rows(metric).filter((d) => d.series === "training"), {
          x: "epoch",
          y: "value",
          fill: "series",
          r: 3,
        }),
        Plot.lineY(rows(metric).filter((d) => d.series === "validation"), {
          x: "epoch",
          y: "value",
          stroke: "series",
        }),
        Plot.text(["● training"], {
          frameAnchor: "top-right",
          dx: -90,
          dy: 8,
          fill: "#1f77b4",
          textAnchor: "end",
        }),
        Plot.text(["— validation"], {
          frameAnchor: "top-right",
          dx: -6,
          dy: 8,
          fill: "#ff7f0e",
          textAnchor: "end",
        }),
        Plot.text([
          metric === "acc" ? "Training and validation accuracy" : "Training and validation loss",
        ], {
          frameAnchor: "top",
          dy: -40,
          fontSize: 14,
        }),
      ],
    } as Plot.PlotOptions);
  const [acc, loss] = await Promise.all([panel("acc"), panel("loss")]);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * width + 20}" height="300">` +
    `<g>${acc.svg()}</g><g transform="translate(${width + 20},0)">${loss.svg()}</g></svg>`;
  return new ChartFigure(svg, acc.width + loss.width + 40, acc.height, (ctx) => {
    acc.draw(ctx);
    ctx.save();
    ctx.translate(acc.width + 40, 0);
    loss.draw(ctx);
    ctx.restore();
  }, "training history");
}
