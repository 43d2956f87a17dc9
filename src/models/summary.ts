/**
 * `model.summary()` as Keras prints it, as a value: a text table for the
 * terminal and an HTML table that a notebook shows as rich output.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { JUPYTER_DISPLAY } from "../display/jupyter.ts";
import { layerOutputShape } from "./layers.ts";
import { escapeHtml } from "../_html.ts";

/** What {@linkcode modelSummary} returns: the table as data, text and HTML. */
export interface ModelSummary {
  /** The model name. */
  name: string;
  /** One row per layer, in model order. */
  rows: {
    /** The layer name, prefixed by its nested model's names when expanded (`sequential/conv2d`). */
    name: string;
    /** The layer class, e.g. `"Conv2D"`. */
    type: string;
    /** Keras notation, e.g. `"(None, 148, 148, 32)"`. */
    outputShape: string;
    /** Number of weights (trainable and not). */
    params: number;
    /** The layers feeding this one (Functional models; empty for Sequential). */
    connectedTo: string[];
    /** 0 for top-level layers, 1 inside a nested model, … */
    depth: number;
  }[];
  /** All weights. */
  totalParams: number;
  /** Weights the optimizer updates. */
  trainableParams: number;
  /** Weights it does not (e.g. batch-norm statistics, frozen layers). */
  nonTrainableParams: number;
  /** The table as Keras prints it. */
  text: string;
  /** The table as an HTML `<table>`. */
  html: string;
  /** Same as `text`. */
  toString(): string;
  /** Rich output in Deno's Jupyter kernel: HTML plus the text. */
  [JUPYTER_DISPLAY](): Record<string, string | unknown>;
}

function isModel(layer: tf.layers.Layer): layer is tf.LayersModel {
  return Array.isArray((layer as unknown as { layers?: unknown }).layers);
}

function weightCount(weights: readonly { shape: readonly (number | null)[] }[]): number {
  return weights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
}

function kerasShape(shape: (number | null)[]): string {
  const dims = shape.map((d) => (d == null ? "None" : String(d)));
  return `(${dims.join(", ")}${dims.length === 1 ? "," : ""})`;
}

function inboundNames(layer: tf.layers.Layer, members: Set<tf.layers.Layer>): string[] {
  const names: string[] = [];
  for (const node of layer.inboundNodes) {
    const inbound = node.inboundLayers.filter((l) => members.has(l));
    if (inbound.length > 0) {
      names.push(...inbound.map((l) => l.name));
      break; // the node of this model; later nodes are re-uses elsewhere
    }
  }
  return names;
}

function collectRows(
  model: tf.LayersModel,
  expand: boolean,
  depth: number,
  prefix: string,
  rows: ModelSummary["rows"],
): void {
  const members = new Set(model.layers);
  const sequential = model.getClassName() === "Sequential";
  for (const layer of model.layers) {
    rows.push({
      name: prefix + layer.name,
      type: layer.getClassName(),
      outputShape: kerasShape(layerOutputShape(layer)),
      params: layer.countParams(),
      connectedTo: sequential ? [] : inboundNames(layer, members),
      depth,
    });
    if (expand && isModel(layer)) {
      collectRows(layer, expand, depth + 1, `${prefix}${layer.name}/`, rows);
    }
  }
}

function bytesLabel(params: number): string {
  const bytes = params * 4;
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes, unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(2)} ${units[unit]}`;
}

const thousands = (n: number) => n.toLocaleString("en-US");

/**
 * Summarises a model like Keras' `model.summary()`: each layer's name and
 * class, output shape, parameter count (and, for Functional models, which
 * layers feed it), then the totals. In a notebook the result shows as an
 * HTML table; `console.log` or `.text` gives the text table.
 *
 * @example
 * ```ts
 * import { bookConvnet, initBackend, modelSummary } from "convscope";
 * await initBackend();
 * const summary = modelSummary(bookConvnet());
 * console.log(summary.text); // … Total params: 3,453,121 (13.17 MB) …
 * ```
 */
export function modelSummary(
  model: tf.LayersModel,
  options: {
    /** List the layers inside nested models too (Keras' `expand_nested`). Default false. */
    expandNested?: boolean;
  } = {},
): ModelSummary {
  const rows: ModelSummary["rows"] = [];
  collectRows(model, options.expandNested ?? false, 0, "", rows);
  const trainableParams = weightCount(model.trainableWeights);
  const nonTrainableParams = weightCount(model.nonTrainableWeights);
  const totalParams = trainableParams + nonTrainableParams;
  const functional = rows.some((r) => r.connectedTo.length > 0);

  const header = [
    "Layer (type)",
    "Output Shape",
    "Param #",
    ...(functional ? ["Connected to"] : []),
  ];
  const cells = rows.map((r) => [
    `${"  ".repeat(r.depth)}${r.name} (${r.type})`,
    r.outputShape,
    thousands(r.params),
    ...(functional ? [r.connectedTo.join(", ")] : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)) + 2);
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i])).join("").trimEnd();
  const rule = (ch: string) => ch.repeat(widths.reduce((a, b) => a + b, 0));
  const totals = [
    `Total params: ${thousands(totalParams)} (${bytesLabel(totalParams)})`,
    `Trainable params: ${thousands(trainableParams)} (${bytesLabel(trainableParams)})`,
    `Non-trainable params: ${thousands(nonTrainableParams)} (${bytesLabel(nonTrainableParams)})`,
  ];
  const text = [
    `Model: "${model.name}"`,
    rule("_"),
    line(header),
    rule("="),
    ...cells.map(line),
    rule("="),
    ...totals,
    rule("_"),
  ].join("\n");

  const td = (v: string, right = false) =>
    `<td style="padding:2px 12px;text-align:${right ? "right" : "left"};font-family:monospace">${
      escapeHtml(v)
    }</td>`;
  const html = [
    `<div><b>Model: "${escapeHtml(model.name)}"</b>`,
    `<table style="border-collapse:collapse">`,
    `<thead><tr>${
      header.map((h) => `<th style="padding:2px 12px;text-align:left">${h}</th>`).join("")
    }</tr></thead>`,
    "<tbody>",
    ...rows.map((r, i) =>
      `<tr>${
        cells[i].map((c, j) =>
          j === 0
            ? `<td style="text-align:left;padding:2px 12px;padding-left:${
              12 + 16 * r.depth
            }px;font-family:monospace">${escapeHtml(r.name)} (${escapeHtml(r.type)})</td>`
            : td(c, j === 2)
        ).join("")
      }</tr>`
    ),
    "</tbody></table>",
    `<p style="font-family:monospace">${totals.join("<br>")}</p></div>`,
  ].join("\n");

  return {
    name: model.name,
    rows,
    totalParams,
    trainableParams,
    nonTrainableParams,
    text,
    html,
    toString: () => text,
    [JUPYTER_DISPLAY]: () => ({ "text/html": html, "text/plain": text }),
    // console.log prints the table, not the object.
    [Symbol.for("Deno.customInspect")]: () => text,
  } as ModelSummary;
}
