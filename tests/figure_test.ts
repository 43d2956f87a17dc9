import * as tf from "@tensorflow/tfjs";
import * as Plot from "@observablehq/plot";
import { featureGrid, imshow, initBackend, matshow, plotChart, plotHistory } from "../mod.ts";
import { JUPYTER_DISPLAY } from "../src/display/jupyter.ts";
import { decodeImage } from "../src/image/load.ts";
import { assert, assertEquals } from "./assert.ts";

await initBackend();

Deno.test("PNG round trip: the pixels drawn are the pixels decoded", async () => {
  const rgb = tf.tensor3d([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30], [2, 2, 3]);
  const png = imshow(rgb, { range: "0-255" }).png();
  assertEquals([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const decoded = await decodeImage(png);
  // No title, no axes: the 2×2 image sits 8 px in from the top-left.
  const at = (
    x: number,
    y: number,
  ) => [...decoded.data.subarray((y * decoded.width + x) * 3, (y * decoded.width + x) * 3 + 3)];
  assertEquals(at(8, 8), [255, 0, 0]);
  assertEquals(at(9, 8), [0, 255, 0]);
  assertEquals(at(8, 9), [0, 0, 255]);
  assertEquals(at(9, 9), [10, 20, 30]);
  assertEquals(at(0, 0), [255, 255, 255]);
  rgb.dispose();
});

Deno.test("matshow upscales nearest-neighbour: a 2×2 map gives four flat blocks", async () => {
  const fig = matshow([[0, 1], [2, 3]], { cmap: "gray", ticks: false, size: 100 });
  const img = await decodeImage(fig.png());
  const px = (x: number, y: number) => img.data[(y * img.width + x) * 3];
  // Zoom 50: block (0,0) spans x 8..57; values 0,1,2,3 → gray 0, 85, 170, 255.
  assertEquals([px(8, 8), px(57, 57), px(58, 8), px(8, 58), px(107, 107)], [0, 0, 85, 170, 255]);
});

Deno.test("figures display as image/png + text/plain and print without binary", () => {
  const fig = featureGrid(tf.randomNormal([1, 4, 4, 2]), { title: "grid" });
  const bundle = fig[JUPYTER_DISPLAY]();
  assertEquals(Object.keys(bundle).sort(), ["image/png", "text/plain"]);
  const png = Uint8Array.from(atob(bundle["image/png"] as string), (c) => c.charCodeAt(0));
  assertEquals(png[1], 0x50);
  assert(!(bundle["image/png"] as string).startsWith("data:"));
  const printed = Deno.inspect(fig);
  assert(/^Figure\("grid", \d+×\d+ px\)$/.test(printed), printed);
});

Deno.test("imshow auto range: floats in [0, 1] are scaled, 0–255 values are not", async () => {
  const unit = tf.fill([1, 1, 3], 0.5);
  const bytes = tf.fill([1, 1, 3], 128);
  const a = await decodeImage(imshow(unit).png());
  const b = await decodeImage(imshow(bytes).png());
  assertEquals(a.data[(8 * a.width + 8) * 3], 128);
  assertEquals(b.data[(8 * b.width + 8) * 3], 128);
  unit.dispose();
  bytes.dispose();
});

Deno.test("charts resolve Plot's em offsets into pixels of the chart's font size (Skia reads em as px)", async () => {
  const chart = await plotChart({
    marks: [Plot.lineY([1, 3, 2])],
    width: 400,
    height: 200,
    style: { fontSize: "12px" },
  });
  const svg = chart.svg();
  assert(!/ (x|y|dx|dy)="-?[\d.]+em"/.test(svg), "an em offset is left in the SVG");
  assert(svg.includes('y="8.52"'), "x tick labels sit 0.71em = 8.52 px below their anchor");
  const history = await plotHistory({
    loss: [0.7, 0.5],
    acc: [0.5, 0.75],
    val_loss: [0.69, 0.6],
    val_acc: [0.5, 0.7],
    seconds: [1, 1],
  });
  const png = await decodeImage(history.png());
  assertEquals([png.width, png.height], [1720, 600]);
});
