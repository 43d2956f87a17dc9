import { applyColormap, colormap, COLORMAP_NAMES } from "../mod.ts";
import { assertEquals, assertThrows } from "./assert.ts";

// matplotlib 3.6: cm.get_cmap(name)(np.arange(256), bytes=True)[:, :3] at these indices.
const MATPLOTLIB: Record<string, [number, number[]][]> = {
  viridis: [[0, [68, 1, 84]], [37, [69, 50, 127]], [128, [32, 144, 140]], [200, [112, 206, 86]], [
    255,
    [253, 231, 36],
  ]],
  magma: [[0, [0, 0, 3]], [37, [35, 17, 82]], [128, [182, 54, 121]], [200, [253, 151, 104]], [255, [
    251,
    252,
    191,
  ]]],
  inferno: [[0, [0, 0, 3]], [37, [41, 11, 84]], [128, [187, 55, 84]], [200, [251, 157, 6]], [255, [
    252,
    254,
    164,
  ]]],
  plasma: [[0, [12, 7, 134]], [37, [84, 1, 163]], [128, [203, 71, 119]], [200, [250, 160, 57]], [
    255,
    [239, 248, 33],
  ]],
  cividis: [[0, [0, 34, 77]], [37, [34, 59, 110]], [128, [124, 123, 120]], [200, [196, 180, 104]], [
    255,
    [253, 231, 55],
  ]],
  jet: [[0, [0, 0, 127]], [37, [0, 20, 255]], [128, [124, 255, 121]], [200, [255, 118, 0]], [255, [
    127,
    0,
    0,
  ]]],
  gray: [[0, [0, 0, 0]], [37, [36, 36, 36]], [128, [128, 128, 128]], [200, [200, 200, 200]], [255, [
    255,
    255,
    255,
  ]]],
};

Deno.test("colormap tables equal matplotlib's at sampled indices", () => {
  for (const name of COLORMAP_NAMES) {
    const { lut } = colormap(name);
    assertEquals(lut.length, 768, name);
    for (const [i, rgb] of MATPLOTLIB[name]) {
      assertEquals([...lut.subarray(i * 3, i * 3 + 3)], rgb, `${name}[${i}]`);
    }
  }
});

Deno.test("applyColormap maps values like matplotlib's Normalize + Colormap", () => {
  // viridis(np.array([0, .5, .999, 1, .2]), bytes=True)
  const rgb = applyColormap([0, 0.5, 0.999, 1, 0.2], { vmin: 0, vmax: 1 });
  assertEquals([...rgb], [68, 1, 84, 32, 144, 140, 253, 231, 36, 253, 231, 36, 64, 67, 135]);
  // Out of range clips to the ends; default range is the data's own.
  assertEquals([...applyColormap([-5, 10], { vmin: 0, vmax: 1, cmap: "gray" })], [
    0,
    0,
    0,
    255,
    255,
    255,
  ]);
  assertEquals([...applyColormap([2, 4], { cmap: "gray" })], [0, 0, 0, 255, 255, 255]);
});

Deno.test("NaN and infinities get the bad colour; a constant input never crashes", () => {
  const rgb = applyColormap([NaN, 1, Infinity, 0, -Infinity], { cmap: "gray", bad: [1, 2, 3] });
  assertEquals([...rgb], [1, 2, 3, 255, 255, 255, 1, 2, 3, 0, 0, 0, 1, 2, 3]);
  assertEquals([...applyColormap([7, 7], { cmap: "gray" })], [0, 0, 0, 0, 0, 0]);
  assertEquals([...applyColormap([NaN, NaN], { cmap: "gray" })], [255, 0, 255, 255, 0, 255]);
});

Deno.test("unknown colormap names are refused with the list of known ones", () => {
  // @ts-expect-error: testing a bad name from untyped callers
  assertThrows(() => colormap("parula"), "Known colormaps: viridis");
});
