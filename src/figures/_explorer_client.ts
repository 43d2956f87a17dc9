/**
 * The explorer's style and page script, as text. The page works without
 * either: the style adds layout and a click-to-zoom; the script adds the
 * readouts, the enlarged channel, the views and the colormaps. It reads each
 * layer's values back from its palette PNG (unfiltered rows, so inflating
 * the IDAT data is all it takes).
 *
 * @module
 */

/** Scoped to `.cs-explorer`, which the explorer replaces with its own id. */
export const EXPLORER_STYLE = `
.cs-explorer { font-family: "DejaVu Sans", system-ui, sans-serif; font-size: 13px; color: #222; max-width: 960px; }
.cs-explorer .cs-head { display: flex; gap: 18px; align-items: flex-start; flex-wrap: wrap; margin-bottom: 8px; }
.cs-explorer figure { margin: 0; }
.cs-explorer img { image-rendering: pixelated; max-width: 100%; height: auto; }
.cs-explorer figcaption, .cs-explorer .cs-note, .cs-explorer .cs-hint { color: #555; }
.cs-explorer table { border-collapse: collapse; }
.cs-explorer td, .cs-explorer th { padding: 1px 8px; text-align: left; }
.cs-explorer .cs-num { font-variant-numeric: tabular-nums; }
.cs-explorer .cs-bar { display: inline-block; height: 10px; background: #3b528b; }
.cs-explorer .cs-cams { display: flex; gap: 10px; flex-wrap: wrap; margin-top: 6px; }
.cs-explorer details.cs-layer { border-top: 1px solid #ddd; padding: 4px 0; }
.cs-explorer details > summary { cursor: pointer; display: list-item; }
.cs-explorer .cs-zoom { display: none; }
.cs-explorer .cs-zoom:checked + label img { width: auto; max-width: none; zoom: 2; }
.cs-explorer label { display: block; overflow-x: auto; cursor: zoom-in; }
.cs-explorer .cs-readout { min-height: 1.4em; font-variant-numeric: tabular-nums; color: #333; }
.cs-explorer .cs-enlarged { display: flex; gap: 8px; align-items: flex-start; }
.cs-explorer .cs-enlarged canvas { image-rendering: pixelated; }
.cs-explorer .cs-stats table { font-size: 12px; }
.cs-explorer .cs-controls { margin: 6px 0; }
.cs-explorer canvas.cs-atlas { cursor: crosshair; max-width: 100%; }
`;

/** Runs once per explorer; `__ID__` is replaced with the explorer's element id. */
export const EXPLORER_SCRIPT = `(() => {
const root = document.getElementById("__ID__");
if (!root || root.dataset.live) return;
root.dataset.live = "1";
const data = JSON.parse(root.querySelector(".cs-data").textContent);
const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const luts = Object.fromEntries(Object.entries(data.luts).map(([k, v]) => [k, bytes(v)]));
const controls = root.querySelector(".cs-controls");
const viewSelect = root.querySelector(".cs-view");
const cmapSelect = root.querySelector(".cs-cmap");
controls.hidden = false;
const fmt = (v) => v === 0 ? "0" : Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3 ? v.toExponential(2) : v.toPrecision(3);

// A layer's values, decoded once from its palette PNG.
async function decode(img) {
  const png = bytes(img.src.slice(img.src.indexOf(",") + 1));
  const view = new DataView(png.buffer);
  const parts = [];
  let width = 0, height = 0;
  for (let p = 8; p < png.length;) {
    const length = view.getUint32(p);
    const type = String.fromCharCode(...png.subarray(p + 4, p + 8));
    if (type === "IHDR") { width = view.getUint32(p + 8); height = view.getUint32(p + 12); }
    if (type === "IDAT") parts.push(png.subarray(p + 8, p + 8 + length));
    p += 12 + length;
  }
  const stream = new Blob(parts).stream().pipeThrough(new DecompressionStream("deflate"));
  const rows = new Uint8Array(await new Response(stream).arrayBuffer());
  const indices = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) indices.set(rows.subarray(y * (width + 1) + 1, (y + 1) * (width + 1)), y * width);
  return { width, height, indices };
}

// The value of channel c at (y, x): its palette index read back on its own range.
function valueAt(layer, atlas, c, y, x) {
  const { height: h, width: w, cols } = layer;
  const [lo, hi] = layer.stats[c];
  const x0 = (c % cols) * (w + 1), y0 = Math.floor(c / cols) * (h + 1);
  return lo + atlas.indices[(y0 + y) * atlas.width + x0 + x] / data.levels * (hi - lo);
}

function channelValues(layer, atlas, c) {
  const { height: h, width: w } = layer;
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = valueAt(layer, atlas, c, y, x);
  return out;
}

// One scale for the whole layer: its smallest minimum and largest maximum.
for (const layer of data.layers) {
  layer.range = layer.stats.reduce(([lo, hi], s) => [Math.min(lo, s[0]), Math.max(hi, s[1])], [Infinity, -Infinity]);
}

// Where a value falls on the 0–255 colour scale, by the chosen view.
function scaler(layer, c, values) {
  const mode = viewSelect.value;
  if (mode === "standardize") {
    let m = 0, s = 0;
    for (const v of values) m += v;
    m /= values.length;
    for (const v of values) s += (v - m) * (v - m);
    s = Math.sqrt(s / values.length) + 1e-5;
    return { at: (v) => (v - m) / s * 64 + 128, lo: m - 2 * s, hi: m + 127 / 64 * s };
  }
  const [lo, hi] = mode === "layer" ? layer.range : layer.stats[c];
  const span = hi - lo;
  return { at: (v) => span > 0 ? (v - lo) / span * 255 : 0, lo, hi };
}

function paint(ctx, values, w, h, x0, y0, scale, lut) {
  const image = ctx.createImageData(w, h);
  for (let p = 0; p < w * h; p++) {
    const k = Math.max(0, Math.min(255, Math.floor(scale.at(values[p])))) * 3;
    image.data[p * 4] = lut[k]; image.data[p * 4 + 1] = lut[k + 1]; image.data[p * 4 + 2] = lut[k + 2]; image.data[p * 4 + 3] = 255;
  }
  ctx.putImageData(image, x0, y0);
}

const layerViews = [];
for (const details of root.querySelectorAll(".cs-layer")) {
  const layer = data.layers[Number(details.dataset.layer)];
  const img = details.querySelector("img.cs-atlas");
  const readout = details.querySelector(".cs-readout");
  const enlarged = details.querySelector(".cs-enlarged");
  const state = { layer, atlas: undefined, canvas: undefined, selected: -1 };
  layerViews.push(state);
  const ready = async () => {
    if (state.atlas) return state.atlas;
    state.atlas = await decode(img);
    const canvas = document.createElement("canvas");
    canvas.width = state.atlas.width; canvas.height = state.atlas.height;
    canvas.className = "cs-atlas";
    canvas.style.width = img.getAttribute("width") + "px";
    canvas.setAttribute("aria-label", img.alt);
    state.canvas = canvas;
    draw(state);
    img.closest("label").replaceWith(canvas);
    canvas.addEventListener("mousemove", (e) => hover(state, readout, e));
    canvas.addEventListener("click", (e) => { const hit = locate(state, e); if (hit) enlarge(state, enlarged, hit.c); });
    return state.atlas;
  };
  if (details.open) ready();
  details.addEventListener("toggle", () => { if (details.open) ready(); });
}

function locate(state, e) {
  const { layer, canvas } = state;
  const r = canvas.getBoundingClientRect();
  const px = Math.floor((e.clientX - r.left) / r.width * canvas.width);
  const py = Math.floor((e.clientY - r.top) / r.height * canvas.height);
  const col = Math.floor(px / (layer.width + 1)), row = Math.floor(py / (layer.height + 1));
  const x = px - col * (layer.width + 1), y = py - row * (layer.height + 1);
  const c = row * layer.cols + col;
  if (x >= layer.width || y >= layer.height || col >= layer.cols || c >= layer.channels || x < 0 || y < 0) return undefined;
  return { c, x, y };
}

function describe(layer, c) {
  const [lo, hi, mean] = layer.stats[c];
  return "channel " + c + " · min " + fmt(lo) + " · max " + fmt(hi) + " · mean " + fmt(mean) + (hi === lo ? " · silent" : "");
}

// A drawn pixel stands for a pool×pool block of the map when the layer was pooled to fit.
function at(layer, y, x, v) {
  const k = layer.pool;
  return k > 1
    ? "max of rows " + y * k + "–" + (y * k + k - 1) + ", columns " + x * k + "–" + (x * k + k - 1) + ": " + fmt(v)
    : "value at (" + y + ", " + x + ") " + fmt(v);
}

function hover(state, readout, e) {
  const hit = locate(state, e);
  if (!hit) return;
  const value = valueAt(state.layer, state.atlas, hit.c, hit.y, hit.x);
  readout.textContent = describe(state.layer, hit.c) + " · " + at(state.layer, hit.y, hit.x, value);
}

function draw(state) {
  const { layer, atlas, canvas } = state;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "white";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const lut = luts[cmapSelect.value];
  for (let c = 0; c < layer.channels; c++) {
    const values = channelValues(layer, atlas, c);
    paint(ctx, values, layer.width, layer.height, (c % layer.cols) * (layer.width + 1), Math.floor(c / layer.cols) * (layer.height + 1), scaler(layer, c, values), lut);
  }
}

function enlarge(state, box, c) {
  const { layer } = state;
  state.selected = c;
  const values = channelValues(layer, state.atlas, c);
  const scale = scaler(layer, c, values);
  const lut = luts[cmapSelect.value];
  const zoom = Math.max(1, Math.floor(320 / Math.max(layer.width, layer.height)));
  const big = document.createElement("canvas");
  big.width = layer.width; big.height = layer.height;
  big.style.width = layer.width * zoom + "px";
  big.className = "cs-channel";
  paint(big.getContext("2d"), values, layer.width, layer.height, 0, 0, scale, lut);
  const bar = document.createElement("canvas");
  bar.width = 1; bar.height = 256; bar.style.width = "14px"; bar.style.height = layer.height * zoom + "px";
  const ramp = new Float32Array(256).map((_, i) => 255 - i);
  paint(bar.getContext("2d"), ramp, 1, 256, 0, 0, { at: (v) => v }, lut);
  const labels = document.createElement("div");
  labels.style.cssText = "display:flex;flex-direction:column;justify-content:space-between;height:" + layer.height * zoom + "px";
  labels.innerHTML = "<span>" + fmt(scale.hi) + "</span><span>" + fmt(scale.lo) + "</span>";
  const caption = document.createElement("div");
  caption.className = "cs-channel-readout";
  caption.textContent = layer.name + " · " + describe(layer, c);
  big.addEventListener("mousemove", (e) => {
    const r = big.getBoundingClientRect();
    const x = Math.min(layer.width - 1, Math.floor((e.clientX - r.left) / r.width * layer.width));
    const y = Math.min(layer.height - 1, Math.floor((e.clientY - r.top) / r.height * layer.height));
    caption.textContent = layer.name + " · channel " + c + " · " + at(layer, y, x, values[y * layer.width + x]);
  });
  const column = document.createElement("div");
  column.append(big, caption);
  box.replaceChildren(column, bar, labels);
}

const redraw = () => {
  for (const state of layerViews) {
    if (!state.atlas) continue;
    draw(state);
    if (state.selected >= 0) enlarge(state, state.canvas.closest(".cs-layer").querySelector(".cs-enlarged"), state.selected);
  }
};
viewSelect.addEventListener("change", redraw);
cmapSelect.addEventListener("change", redraw);

// Grad-CAM: one class at a time.
const cams = [...root.querySelectorAll(".cs-cam-class")];
for (const cam of cams) {
  cam.addEventListener("toggle", () => { if (cam.open) for (const other of cams) if (other !== cam) other.open = false; });
}
})();`;
