/**
 * One rich output for a whole model on one picture: every conv/pool layer's
 * channels beside the input, the prediction and a Grad-CAM overlay per
 * class. Readable with no script at all (an untrusted notebook, GitHub);
 * where the front end runs its script, hover readouts, an enlarged channel
 * with its colorbar, the book's standardised view and a colormap choice.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { getActivations, informativeChannels } from "../methods/activations.ts";
import { gradCam } from "../methods/gradcam.ts";
import { modelInputRange } from "../models/metadata.ts";
import { outputActivation } from "../models/nested.ts";
import { colormap, COLORMAP_NAMES } from "../plot/colormaps.ts";
import { featureGrid } from "../plot/feature_grid.ts";
import { type Figure, hstack } from "../plot/figure.ts";
import { overlayRaster } from "../plot/heatmap.ts";
import { imshow, rgbTensorToRaster } from "../plot/matshow.ts";
import type { Raster } from "../plot/raster.ts";
import { JUPYTER_DISPLAY, toBase64 } from "../display/jupyter.ts";
import { encodeIndexedPng } from "./_indexed_png.ts";
import { EXPLORER_SCRIPT, EXPLORER_STYLE } from "./_explorer_client.ts";
import { escapeHtml } from "../_html.ts";
import { onCpuWhenNeeded, readBack } from "../backend/read_back.ts";

/** Index of the gap between tiles in a layer's palette PNG (drawn white). */
const GAP = 255;
/** Levels a channel's values are quantised to (0…254, min…max of the channel). */
const LEVELS = 254;
/** Widest a layer's picture is drawn, CSS pixels (a notebook's output width). */
const MAX_WIDTH = 940;
/** Side of a channel in the PNG overview, pixels. */
const OVERVIEW_TILE = 48;

interface LayerData {
  name: string;
  className: string;
  /** The layer's own map size. */
  fullHeight: number;
  fullWidth: number;
  /** Each tile is the map max-pooled by this factor (1: as it is). */
  pool: number;
  /** The tile size drawn. */
  height: number;
  width: number;
  channels: number;
  cols: number;
  /** Per channel: min, max, mean. */
  stats: [number, number, number][];
  silent: number;
  png: Uint8Array;
}

/**
 * What {@linkcode explore} returns: shows itself in a notebook (`text/html`
 * with an `image/png` overview and `text/plain`), `save(path)` writes a
 * standalone page that works from `file://`.
 */
export interface Explorer {
  /** The explorer's HTML fragment (style, content, script), as a notebook shows it. */
  readonly html: string;
  /** A compact PNG overview: input, Grad-CAM, the 8 most varied channels of every layer. */
  readonly overview: Figure;
  /** Layers shown, channels in all, and the top prediction, in one line. */
  toString(): string;
  /** Writes a standalone HTML page; returns the path. */
  save(path: string): Promise<string>;
  /** The MIME bundle Deno's Jupyter kernel renders. */
  [JUPYTER_DISPLAY](): Record<string, string>;
}

function fmt(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(2) : v.toPrecision(3);
}

/**
 * Tiles a layer's channels into one palette PNG, each quantised over its own
 * range. Maps larger than `maxSide` are max-pooled to fit (where a channel
 * fires stays visible); the statistics are always the full map's.
 */
function packLayer(
  name: string,
  className: string,
  activation: tf.Tensor,
  maxSide: number,
): LayerData {
  if (activation.rank !== 4) {
    throw new Error(
      `explore: layer "${name}" outputs [${activation.shape}], not a feature map [1, h, w, c]; ` +
        `pass conv/pool layers in "layers"`,
    );
  }
  const [, fullHeight, fullWidth, channels] = activation.shape;
  const full = activation.dataSync();
  const pool = Math.max(1, Math.ceil(Math.max(fullHeight, fullWidth) / maxSide));
  const shown = pool > 1
    ? tf.tidy(() => tf.maxPool(activation as tf.Tensor4D, pool, pool, "same"))
    : activation;
  const values = pool > 1 ? shown.dataSync() : full;
  const [, height, width] = shown.shape;
  if (shown !== activation) shown.dispose();
  const cols = Math.min(channels, 16);
  const rows = Math.ceil(channels / cols);
  const atlasWidth = cols * width + cols - 1;
  const atlasHeight = rows * height + rows - 1;
  const indices = new Uint8Array(atlasWidth * atlasHeight).fill(GAP);
  const stats: [number, number, number][] = [];
  let silent = 0;
  for (let c = 0; c < channels; c++) {
    let lo = Infinity, hi = -Infinity, sum = 0;
    for (let p = c; p < full.length; p += channels) {
      const v = full[p];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      sum += v;
    }
    stats.push([lo, hi, sum / (fullHeight * fullWidth)]);
    if (hi === lo) silent++;
    const scale = hi > lo ? LEVELS / (hi - lo) : 0;
    const x0 = (c % cols) * (width + 1), y0 = Math.floor(c / cols) * (height + 1);
    for (let y = 0; y < height; y++) {
      const row = (y0 + y) * atlasWidth + x0;
      for (let x = 0; x < width; x++) {
        indices[row + x] = Math.round((values[(y * width + x) * channels + c] - lo) * scale);
      }
    }
  }
  const palette = new Uint8Array(768);
  palette.set(colormap("viridis").lut.subarray(0, 765));
  palette.set([255, 255, 255], 765);
  return {
    name,
    className,
    fullHeight,
    fullWidth,
    pool,
    height,
    width,
    channels,
    cols,
    stats,
    silent,
    png: encodeIndexedPng(atlasWidth, atlasHeight, indices, palette),
  };
}

function dataUrl(png: Uint8Array): string {
  return `data:image/png;base64,${toBase64(png)}`;
}

/** The input as the reader knows it (0–255), from the model's own pixel range. */
function inputRaster(model: tf.LayersModel, image: tf.Tensor): Raster {
  const range = modelInputRange(model);
  const rgb = tf.tidy(() => {
    const squeezed = image.rank === 4 ? tf.squeeze(image, [0]) : image;
    const colour = squeezed.shape[2] === 1 ? tf.tile(squeezed, [1, 1, 3]) : squeezed;
    return range ? tf.mul(tf.sub(colour, range[0]), 255 / (range[1] - range[0])) : colour.clone();
  });
  try {
    return rgbTensorToRaster(rgb, range ? "0-255" : "auto");
  } finally {
    rgb.dispose();
  }
}

function rasterPng(raster: Raster): Uint8Array {
  return imshow(raster).png();
}

/**
 * Explores `model` on one picture: every conv/pool layer's channels (click a
 * layer to open it, a channel to enlarge it, hover for values), the
 * prediction, and a Grad-CAM overlay per class (both classes of one sigmoid
 * unit; the top 3 of a softmax, or `classes`). In a notebook it displays
 * itself; `save(path)` writes a page. Without scripts (an untrusted notebook)
 * every layer and channel still shows, with a table of each channel's min,
 * max and mean. For the book's model at 150² the output is under 1 MB: each
 * layer is one palette PNG whose index k means min + k/254·(max − min) of its
 * channel.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { bookConvnet, explore, initBackend, loadImage, tf } from "convscope";
 * await initBackend();
 * const image = await loadImage("notebooks/images/chelsea.png", { targetSize: [150, 150] });
 * const explorer = await explore(bookConvnet(), tf.div(image, 255), { classNames: ["cat", "dog"] });
 * assertEquals(explorer.toString().startsWith("Explorer(8 layers, 704 channels"), true);
 * await explorer.save("out/explorer.html");
 * ```
 */
export async function explore(
  model: tf.LayersModel,
  image: tf.Tensor,
  options: {
    /** Which layers: names or indices, or a predicate. Default every conv/pool layer. */
    layers?:
      | readonly (string | number)[]
      | ((layer: tf.layers.Layer, index: number) => boolean);
    /** Class names, e.g. `["cat", "dog"]` for the book's model. */
    classNames?: readonly string[];
    /** Classes to explain with Grad-CAM; default both of a sigmoid unit, the top 3 of a softmax. */
    classes?: readonly number[];
    /** Page title (`save`). */
    title?: string;
    /**
     * Largest side a channel is drawn at, pixels: larger maps are max-pooled to
     * fit (VGG16's 224² layers at 112²), which keeps the output to a few MB.
     * Default 160 (the book's model is drawn whole).
     */
    maxSide?: number;
  } = {},
): Promise<Explorer> {
  const id = `cs-explorer-${crypto.randomUUID().slice(0, 8)}`;
  const activations = await getActivations(model, image, options.layers);
  let layers: LayerData[];
  let overviewRows: Figure[];
  try {
    // Drawing reads values synchronously: on webgpu it runs on the cpu backend.
    [layers, overviewRows] = onCpuWhenNeeded(() => [
      activations.map((a) => packLayer(a.name, a.className, a.activation, options.maxSide ?? 160)),
      activations.map((a) => {
        // The overview is the fallback for front ends without HTML: small tiles keep it light.
        const thumbnails = tf.tidy(() => {
          // A layer silent on this input has no varied channel: its first ones show it, dark.
          const varied = informativeChannels(a.activation as tf.Tensor4D, 8);
          const channels = varied.length > 0
            ? varied
            : [...Array(Math.min(8, a.activation.shape[3]!)).keys()];
          const picked = tf.gather(a.activation, channels, 3);
          const [, h, w] = picked.shape;
          return h > OVERVIEW_TILE
            ? tf.image.resizeBilinear(picked as tf.Tensor4D, [
              OVERVIEW_TILE,
              Math.round(OVERVIEW_TILE * w / h),
            ])
            : picked;
        });
        try {
          return featureGrid(thumbnails, {
            cols: 8,
            minTileSize: OVERVIEW_TILE,
            title: `${a.name}: the 8 most varied channels`,
          });
        } finally {
          thumbnails.dispose();
        }
      }),
    ]);
  } finally {
    for (const a of activations) a.activation.dispose();
  }

  // The picture is drawn as well: on webgpu its values may be on the GPU only.
  await readBack(image);
  const picture = onCpuWhenNeeded(() => inputRaster(model, image));
  const output = tf.tidy(() => model.predict(image.rank === 3 ? image.expandDims(0) : image));
  const prediction = (output as tf.Tensor).rank === 2
    ? [...await (output as tf.Tensor).data()]
    : undefined;
  tf.dispose(output);
  const name = (k: number) => options.classNames?.[k] ?? `class ${k}`;
  const binary = prediction?.length === 1 && outputActivation(model) === "sigmoid";
  const probabilities = !prediction ? [] : binary ? [1 - prediction[0], prediction[0]] : prediction;
  const ranked = [...probabilities.keys()].sort((a, b) => probabilities[b] - probabilities[a]);
  const explained = options.classes ?? (binary ? [ranked[0], ranked[1]] : ranked.slice(0, 3));

  const cams: { classIndex: number; png: Uint8Array; overlay: Raster }[] = [];
  let camNote = "";
  if (prediction) {
    // The overlays are drawn over the picture as shown (0–255, clipped), once for all classes.
    const pixels = tf.tensor3d(picture.data, [picture.height, picture.width, 3], "float32");
    try {
      for (const classIndex of explained) {
        const cam = await gradCam(model, image, { classIndex });
        try {
          const overlay = overlayRaster(pixels, cam.heatmap);
          cams.push({ classIndex, png: rasterPng(overlay), overlay });
        } finally {
          cam.heatmap.dispose();
        }
      }
    } catch (error) {
      camNote = `Grad-CAM is not shown: ${(error as Error).message}`;
    } finally {
      pixels.dispose();
    }
  }

  const predictionRows = ranked.slice(0, 5).map((k) =>
    `<tr><td>${escapeHtml(name(k))}</td><td class="cs-num">${
      probabilities[k].toFixed(3)
    }</td><td><span class="cs-bar" style="width:${
      Math.round(probabilities[k] * 100)
    }px"></span></td></tr>`
  ).join("");
  const inputPng = rasterPng(picture);
  const inputWidth = Math.min(220, Math.max(150, picture.width));
  const camHtml = cams.map((cam, i) =>
    `<details class="cs-cam-class" data-class="${cam.classIndex}"${
      i === 0 ? " open" : ""
    }><summary>Grad-CAM: ${escapeHtml(name(cam.classIndex))} (${
      probabilities[cam.classIndex].toFixed(3)
    })</summary><img src="${dataUrl(cam.png)}" width="${inputWidth}" alt="Grad-CAM overlay for ${
      escapeHtml(name(cam.classIndex))
    }"></details>`
  ).join("");

  const layerHtml = layers.map((layer, i) => {
    const atlasWidth = layer.cols * layer.width + layer.cols - 1;
    // Small maps are drawn at a whole multiple of their size, so pixels stay square.
    const shown = atlasWidth >= MAX_WIDTH
      ? MAX_WIDTH
      : atlasWidth * Math.min(8, Math.floor(MAX_WIDTH / atlasWidth));
    const rows = layer.stats.map(([lo, hi, mean], c) =>
      `<tr><td>${c}</td><td>${fmt(lo)}</td><td>${fmt(hi)}</td><td>${fmt(mean)}</td><td>${
        hi === lo ? "silent" : ""
      }</td></tr>`
    ).join("");
    const silent = layer.silent ? ` · ${layer.silent} silent (dark)` : "";
    return `<details class="cs-layer" data-layer="${i}"${i === 0 ? " open" : ""}>
<summary><b>${
      escapeHtml(layer.name)
    }</b> · ${layer.className} · ${layer.fullHeight}×${layer.fullWidth}×${layer.channels}${silent}${
      layer.pool > 1
        ? ` · drawn ${layer.pool}×${layer.pool} max-pooled to ${layer.height}×${layer.width}`
        : ""
    }</summary>
<input type="checkbox" hidden class="cs-zoom" id="${id}-zoom-${i}"><label for="${id}-zoom-${i}" title="click to zoom">
<img class="cs-atlas" src="${dataUrl(layer.png)}" width="${shown}" alt="${
      escapeHtml(layer.name)
    }: ${layer.channels} channels, ${layer.cols} per row, each from its minimum (dark) to its maximum (yellow)"></label>
<div class="cs-readout" aria-live="polite">Channels ${layer.cols} per row, each scaled from its own minimum (dark) to its maximum (yellow).</div>
<div class="cs-enlarged"></div>
<details class="cs-stats"><summary>${layer.channels} channels: min, max, mean</summary>
<table><thead><tr><th>channel</th><th>min</th><th>max</th><th>mean</th><th></th></tr></thead><tbody>${rows}</tbody></table></details>
</details>`;
  }).join("\n");

  const luts = Object.fromEntries(COLORMAP_NAMES.map((n) => [n, toBase64(colormap(n).lut)]));
  const data = {
    layers: layers.map((l) => ({
      name: l.name,
      pool: l.pool,
      height: l.height,
      width: l.width,
      channels: l.channels,
      cols: l.cols,
      stats: l.stats,
    })),
    levels: LEVELS,
    luts,
  };
  const totalChannels = layers.reduce((n, l) => n + l.channels, 0);
  const top = ranked.length
    ? `, prediction ${name(ranked[0])} ${probabilities[ranked[0]].toFixed(3)}`
    : "";
  const summary = `Explorer(${layers.length} layers, ${totalChannels} channels${top})`;

  const html = `<div class="cs-explorer" id="${id}">
<style>${EXPLORER_STYLE.replaceAll(".cs-explorer", `#${id}`)}</style>
<div class="cs-head">
<figure class="cs-input"><img src="${
    dataUrl(inputPng)
  }" width="${inputWidth}" alt="the input picture"><figcaption>input ${picture.width}×${picture.height}</figcaption></figure>
${
    prediction
      ? `<div class="cs-prediction"><table><thead><tr><th>class</th><th>probability</th><th></th></tr></thead><tbody>${predictionRows}</tbody></table>${
        camHtml ? `<div class="cs-cams">${camHtml}</div>` : ""
      }${camNote ? `<p class="cs-note">${escapeHtml(camNote)}</p>` : ""}</div>`
      : ""
  }
</div>
<div class="cs-controls" hidden>view <select class="cs-view"><option value="minmax">each channel min–max</option><option value="standardize">the book's standardised view</option><option value="layer">one scale for the layer</option></select>
colormap <select class="cs-cmap">${
    COLORMAP_NAMES.map((n) => `<option${n === "viridis" ? " selected" : ""}>${n}</option>`).join("")
  }</select> <span class="cs-hint">hover a grid for values, click a channel to enlarge it</span></div>
${layerHtml}
<script type="application/json" class="cs-data">${
    JSON.stringify(data).replaceAll("<", "\\u003c")
  }</script>
<script>${EXPLORER_SCRIPT.replace("__ID__", id)}</script>
</div>`;

  const overview = hstack([
    hstack([
      imshow(picture, { title: "input" }),
      ...cams.map((c) =>
        imshow(c.overlay, {
          title: `Grad-CAM ${name(c.classIndex)} ${probabilities[c.classIndex].toFixed(2)}`,
        })
      ),
    ]),
    ...overviewRows,
  ], { cols: 1, gap: 12 });

  return {
    html,
    overview,
    toString: () => summary,
    async save(path: string) {
      await mkdir(dirname(path), { recursive: true });
      const title = escapeHtml(options.title ?? `convscope explorer: ${model.name}`);
      await writeFile(
        path,
        `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>\n<body style="font-family: 'DejaVu Sans', system-ui, sans-serif; margin: 1.5rem auto; max-width: 1240px">\n<h1>${title}</h1>\n${html}\n</body></html>\n`,
      );
      return path;
    },
    [JUPYTER_DISPLAY]: () => ({
      "text/html": html,
      "image/png": toBase64(overview.png()),
      "text/plain": summary,
    }),
    [Symbol.for("Deno.customInspect")]: () => summary,
  } as Explorer;
}
