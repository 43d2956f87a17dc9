/**
 * explore(): the values it packs decode back to the activations, the output
 * stays within its size budget, and in a real browser (Debian's headless
 * Chromium driven by puppeteer-core) a reader can open a layer, read a value,
 * enlarge a channel and switch views; with scripts stripped (an untrusted
 * notebook) every layer and channel is still there. Screenshots of each
 * state go to out/explorer/. Without Chromium the browser part skips with a
 * message, except under CI.
 */
import { Buffer } from "node:buffer";
import { inflateSync } from "node:zlib";
import {
  bookConvnet,
  explore,
  getActivations,
  initBackend,
  loadImage,
  mnistConvnet,
  tf,
} from "../mod.ts";
import { writeGallery } from "../scripts/gallery.ts";
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { wasmHeapBytes } from "./heap.ts";
import { type BrowserImage, CHROMIUM, clickThrough, withPage } from "./_explorer_browser.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const OUT = `${ROOT}out/explorer`;
const chromium = await Deno.stat(CHROMIUM).then(() => true, () => false);
if (!chromium && Deno.env.get("CI")) throw new Error("CI must run the explorer's browser test");
if (!chromium) console.warn("SKIPPING explorer browser checks: no /usr/bin/chromium");

await initBackend();
const model = bookConvnet({ seed: 7 });
const picture = await loadImage(`${ROOT}notebooks/images/chelsea.png`, { targetSize: [150, 150] });
const input = tf.div(picture, 255);

/** The palette indices of a data-URL PNG written by the explorer. */
function decodeAtlas(src: string): { width: number; height: number; indices: Uint8Array } {
  const png = Uint8Array.from(atob(src.slice(src.indexOf(",") + 1)), (c) => c.charCodeAt(0));
  const view = new DataView(png.buffer);
  const idat: Uint8Array[] = [];
  let width = 0, height = 0;
  for (let p = 8; p < png.length;) {
    const length = view.getUint32(p);
    const type = String.fromCharCode(...png.subarray(p + 4, p + 8));
    if (type === "IHDR") [width, height] = [view.getUint32(p + 8), view.getUint32(p + 12)];
    if (type === "IDAT") idat.push(png.subarray(p + 8, p + 8 + length));
    p += 12 + length;
  }
  const rows = inflateSync(Buffer.concat(idat));
  const indices = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    assertEquals(rows[y * (width + 1)], 0, "every row unfiltered");
    indices.set(rows.subarray(y * (width + 1) + 1, (y + 1) * (width + 1)), y * width);
  }
  return { width, height, indices };
}

Deno.test("explore packs every channel so that it decodes back within half a level", async () => {
  const explorer = await explore(model, input, { classNames: ["cat", "dog"] });
  const atlases = [...explorer.html.matchAll(/<img class="cs-atlas" src="([^"]+)"/g)].map((m) =>
    decodeAtlas(m[1])
  );
  const activations = await getActivations(model, input);
  try {
    assertEquals(atlases.length, 8);
    let channels = 0, worst = 0;
    activations.forEach(({ activation }, i) => {
      const [, h, w, c] = activation.shape;
      const values = activation.dataSync();
      const atlas = atlases[i];
      const cols = Math.min(c, 16);
      assertEquals(atlas.width, cols * w + cols - 1);
      for (let k = 0; k < c; k++, channels++) {
        let lo = Infinity, hi = -Infinity;
        for (let p = k; p < values.length; p += c) {
          lo = Math.min(lo, values[p]);
          hi = Math.max(hi, values[p]);
        }
        const x0 = (k % cols) * (w + 1), y0 = Math.floor(k / cols) * (h + 1);
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            const index = atlas.indices[(y0 + y) * atlas.width + x0 + x];
            assert(index <= 254, "a channel's pixel is never the gap colour");
            const decoded = hi > lo ? lo + (index / 254) * (hi - lo) : lo;
            const level = hi > lo ? (hi - lo) / 254 : 1;
            worst = Math.max(worst, Math.abs(decoded - values[(y * w + x) * c + k]) / level);
          }
        }
      }
    });
    assertEquals(channels, 704);
    assert(worst <= 0.5 + 1e-3, `worst error ${worst} levels`);
    console.log(`  704 channels decode within ${worst.toFixed(3)} of a level`);
  } finally {
    for (const a of activations) a.activation.dispose();
  }
});

Deno.test("explore max-pools maps larger than maxSide, and says so; statistics stay the full map's", async () => {
  const explorer = await explore(model, input, { layers: ["conv2d_1"], maxSide: 100 });
  assert(explorer.html.includes("148×148×32"), "the header gives the layer's own size");
  assert(explorer.html.includes("drawn 2×2 max-pooled to 74×74"), "and how it is drawn");
  const [src] = [...explorer.html.matchAll(/<img class="cs-atlas" src="([^"]+)"/g)].map((m) =>
    m[1]
  );
  const atlas = decodeAtlas(src);
  const [activation] = (await getActivations(model, input, ["conv2d_1"])).map((a) => a.activation);
  const pooled = tf.maxPool(activation as tf.Tensor4D, 2, 2, "same");
  try {
    const full = activation.dataSync(), shown = pooled.dataSync();
    const channels = 32, cols = 16, w = 74, h = 74;
    assertEquals(atlas.width, cols * w + cols - 1);
    let worst = 0;
    for (let k = 0; k < channels; k++) {
      let lo = Infinity, hi = -Infinity;
      for (let p = k; p < full.length; p += channels) {
        lo = Math.min(lo, full[p]);
        hi = Math.max(hi, full[p]);
      }
      if (!(hi > lo)) continue;
      const x0 = (k % cols) * (w + 1), y0 = Math.floor(k / cols) * (h + 1);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const index = atlas.indices[(y0 + y) * atlas.width + x0 + x];
          const decoded = lo + (index / 254) * (hi - lo);
          worst = Math.max(
            worst,
            Math.abs(decoded - shown[(y * w + x) * channels + k]) / ((hi - lo) / 254),
          );
        }
      }
    }
    assert(worst <= 0.5 + 1e-3, `worst error ${worst} levels`);
  } finally {
    tf.dispose([activation, pooled]);
  }
});

Deno.test("explore stays within its budget, leaves no tensors and refuses what is not a feature map", async () => {
  const tensors = tf.memory().numTensors, heap = wasmHeapBytes();
  const explorer = await explore(model, input, { classNames: ["cat", "dog"] });
  const bundle = explorer[Symbol.for("Jupyter.display") as never] as unknown as () => Record<
    string,
    string
  >;
  const parts = bundle.call(explorer);
  const bytes = Object.values(parts).reduce((n, v) => n + v.length, 0);
  console.log(`  ${String(explorer)}: ${(bytes / 1e6).toFixed(2)} MB in the bundle`);
  assert(bytes <= 2e6, `the bundle is ${bytes} bytes, over the 2 MB budget`);
  assertEquals(Object.keys(parts).sort(), ["image/png", "text/html", "text/plain"]);
  assertEquals(tf.memory().numTensors, tensors);
  for (let i = 0; i < 3; i++) await explore(model, input);
  assertEquals(tf.memory().numTensors, tensors);
  assert(wasmHeapBytes() - heap < 64 << 20, "the heap grew by more than 64 MiB");
  await assertRejects(
    () => explore(model, input, { layers: ["dense_1"] }),
    /dense_1.*not a feature map/,
  );
  assertEquals(tf.memory().numTensors, tensors);
  // Both classes of the sigmoid unit get a Grad-CAM overlay.
  assertEquals((explorer.html.match(/class="cs-cam-class"/g) ?? []).length, 2);
});

// The real Keras files readers have (../shared, with CI): nested bases, residual
// blocks, MobileNet, layers silent on a random input.
const REAL = new URL("../../shared/data/models/real/", import.meta.url).pathname;
const realFiles = await Array.fromAsync(Deno.readDir(REAL)).then(
  (entries) => entries.map((e) => e.name).filter((n) => /\.(h5|hdf5|keras)$/.test(n)).sort(),
  () => [] as string[],
);
if (realFiles.length === 0 && Deno.env.get("CI")) throw new Error(`CI must have ${REAL}`);
if (realFiles.length === 0) console.warn(`SKIPPING explore on real Keras files: ${REAL} is absent`);

Deno.test({
  name:
    "explore works on every real Keras file that loads, nested models included, and leaks nothing",
  ignore: realFiles.length === 0,
  async fn() {
    const { loadKerasModel } = await import("../mod.ts");
    let explored = 0;
    for (const file of realFiles) {
      const model = await loadKerasModel(`${REAL}${file}`).catch(() => undefined);
      if (!model) continue; // refused by name: the loader's own test checks which and why
      const shape = model.inputs[0].shape.slice(1).map((d) => d ?? 64) as number[];
      const x = tf.randomUniform(shape, 0, 1, "float32", 3);
      const tensors = tf.memory().numTensors;
      const explorer = await explore(model, x);
      assert(/^Explorer\([1-9]\d* layers/.test(String(explorer)), `${file}: ${explorer}`);
      assert(explorer.overview.png().length > 0);
      assertEquals(tf.memory().numTensors, tensors, `${file} left tensors`);
      x.dispose();
      model.dispose();
      explored++;
    }
    assertEquals(explored, 12);
  },
});

Deno.test("explore on a softmax model explains its top 3 classes, or the classes asked for", async () => {
  const mnist = mnistConvnet();
  const digit = tf.randomUniform([28, 28, 1], 0, 1, "float32", 3);
  const top = await explore(mnist, digit);
  assertEquals((top.html.match(/class="cs-cam-class"/g) ?? []).length, 3);
  const chosen = await explore(mnist, digit, { classes: [3, 8], classNames: [..."0123456789"] });
  assertEquals([...chosen.html.matchAll(/data-class="(\d+)"/g)].map((m) => m[1]), ["3", "8"]);
  mnist.dispose();
  digit.dispose();
});

Deno.test({
  name: "explore in a real browser: open a layer, read a value, enlarge a channel, switch views",
  ignore: !chromium,
  async fn() {
    const page = await (await explore(model, input, { classNames: ["cat", "dog"] })).save(
      `${OUT}/explorer.html`,
    );
    await withPage(async (tab) => {
      await tab.goto(`file://${page}`);
      await clickThrough(tab, `${OUT}/page`);
    });
  },
});

Deno.test({
  name: "the gallery is an explorer that works offline from file://",
  ignore: !chromium,
  async fn() {
    const dir = `${OUT}/gallery`;
    await Deno.mkdir(dir, { recursive: true });
    const fig = await import("../mod.ts").then((m) => m.imshow(picture, { title: "input" }));
    await fig.save(`${dir}/input.png`);
    const explorer = await explore(model, input, { classNames: ["cat", "dog"] });
    const index = await writeGallery(dir, "gallery", [{ file: "input.png", caption: "input" }], {
      explorer: explorer.html,
    });
    await withPage(async (tab) => {
      const failed: string[] = [];
      tab.on("requestfailed", (r) => failed.push(r.url()));
      await tab.goto(`file://${index}`);
      await clickThrough(tab, `${OUT}/gallery-shots`);
      assertEquals(failed, [], "the gallery loads nothing from outside");
    });
  },
});

Deno.test({
  name:
    "with scripts stripped (an untrusted notebook), and styles too, every layer and channel shows",
  ignore: !chromium,
  async fn() {
    const html = (await explore(model, input, { classNames: ["cat", "dog"] })).html;
    const noScript = html.replace(/<script[\s\S]*?<\/script>/g, "");
    const noStyle = noScript.replace(/<style>[\s\S]*?<\/style>/g, "");
    assert(!noScript.includes("<script"));
    for (const [name, body] of [["no-script", noScript], ["no-script-no-style", noStyle]]) {
      const path = `${OUT}/${name}.html`;
      await Deno.writeTextFile(path, `<!doctype html><meta charset="utf-8"><body>${body}`);
      await withPage(async (tab) => {
        await tab.goto(`file://${path}`);
        // Open every layer and its channel table, as a reader clicking through would.
        await tab.$$eval(
          "details",
          (all) => all.forEach((d) => (d as unknown as { open: boolean }).open = true),
        );
        const shown = await tab.$$eval("img.cs-atlas", (imgs) =>
          imgs.map((i) => {
            const img = i as unknown as BrowserImage;
            return img.complete && img.naturalWidth > 0 && img.getBoundingClientRect().width > 0;
          }));
        assertEquals(shown, Array(8).fill(true));
        const rows = await tab.$$eval(".cs-stats tbody tr", (r) => r.length);
        assertEquals(rows, 704);
        await tab.screenshot({ path: `${OUT}/${name}.png`, fullPage: false });
      });
    }
  },
});
