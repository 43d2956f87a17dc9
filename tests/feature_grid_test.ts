import * as tf from "@tensorflow/tfjs";
import { featureGrid, initBackend } from "../mod.ts";
import { normalizeChannels } from "../src/plot/feature_grid.ts";
import { filledRaster, tileRasters } from "../src/plot/raster.ts";
import { assert, assertEquals, assertThrows } from "./assert.ts";

await initBackend();

Deno.test("the book's standardisation: (x - mean) / std * 64 + 128, clipped, truncated", () => {
  // One channel with values [0, 1, 2, 3]: mean 1.5, std sqrt(1.25).
  const t = tf.tensor4d([0, 1, 2, 3], [1, 2, 2, 1]);
  const { bytes } = normalizeChannels(t);
  const std = Math.sqrt(1.25);
  const expected = [0, 1, 2, 3].map((v) =>
    Math.trunc(Math.min(255, Math.max(0, (v - 1.5) / std * 64 + 128)))
  );
  assertEquals([...bytes], expected);
  t.dispose();
});

Deno.test("silent (constant) channels render dark, as the book's NaN → 0, never NaN, and are counted", () => {
  const t = tf.tidy(() =>
    tf.concat([tf.zeros([1, 3, 3, 1]), tf.fill([1, 3, 3, 1], 5), tf.randomNormal([1, 3, 3, 1])], 3)
  );
  const { bytes, silent } = normalizeChannels(t);
  assertEquals([...bytes.subarray(0, 18)], new Array(18).fill(0));
  assert(bytes.subarray(18).some((b) => b !== 0));
  assertEquals(silent, [0, 1]);
  assertEquals(featureGrid(t, { title: "layer" }).title, "layer · 2 of 3 silent (dark)");
  t.dispose();
});

Deno.test("channels are read from the last axis, in order", () => {
  // Channel c is constant 0 except one pixel; check each tile holds its own channel.
  const data = new Float32Array(2 * 2 * 3);
  data[0 * 3 + 0] = 1; // channel 0 peaks at pixel 0
  data[3 * 3 + 2] = 1; // channel 2 peaks at pixel 3
  const t = tf.tensor4d(data, [1, 2, 2, 3]);
  const { bytes } = normalizeChannels(t, "minmax");
  assertEquals([...bytes], [255, 0, 0, 0, 128, 128, 128, 128, 0, 0, 0, 255]);
  t.dispose();
});

Deno.test("grid layout: 16 per row, 1-px gaps, small maps enlarged to >= 64 px", () => {
  const t = tf.randomNormal([1, 7, 7, 40]);
  const fig = featureGrid(t, { title: "x" });
  // 7 px tiles × 10 = 70 px; 16 columns, 3 rows, 1 px gaps; plus the 8 px frame and 28 px title.
  assertEquals(fig.width, 8 + 16 * 70 + 15 + 8);
  assertEquals(fig.height, 8 + 28 + 3 * 70 + 2 + 8);
  t.dispose();
  const grid = tileRasters([
    filledRaster(2, 2, [0, 0, 0]),
    filledRaster(2, 2, [0, 0, 0]),
    filledRaster(2, 2, [0, 0, 0]),
  ], { cols: 2, gap: 1 });
  assertEquals([grid.width, grid.height], [5, 5]);
  // The empty cell stays background (white).
  assertEquals([...grid.data.subarray((4 * 5 + 4) * 3, (4 * 5 + 4) * 3 + 3)], [255, 255, 255]);
});

Deno.test("featureGrid rejects batches and bad channel indices clearly", () => {
  const t = tf.zeros([2, 4, 4, 3]);
  assertThrows(() => featureGrid(t), "one image's activation");
  const u = tf.zeros([1, 4, 4, 3]);
  assertThrows(() => featureGrid(u, { channels: [5] }), "channel 5 is out of range");
  t.dispose();
  u.dispose();
});
