/**
 * `deno task demo`: the chapter's figures for a bundled image, written to
 * out/ with an index.html gallery. Offline: everything it reads ships with
 * the project.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  bookConvnet,
  getActivations,
  imshow,
  initBackend,
  loadImage,
  matshow,
  showActivations,
} from "../mod.ts";
import { type GalleryEntry, writeGallery } from "./gallery.ts";
import { ProgressBar } from "../src/display/progress.ts";

const started = performance.now();
const outDir = new URL("../out/", import.meta.url).pathname;
const imagePath = Deno.args[0] ??
  new URL("../notebooks/images/chelsea.png", import.meta.url).pathname;
const info = await initBackend();
console.log(`convscope demo on ${info.backend} (SIMD ${info.simd}, ${info.threads} threads)`);

const model = bookConvnet();
const image = await loadImage(imagePath, { targetSize: [150, 150] });
const input = tf.div(image, 255);
const entries: GalleryEntry[] = [];
const total = 3 + 8;
const bar = new ProgressBar({ total, label: "figures" });

entries.push({
  file: await imshow(image, { title: "input (150×150)" }).save(`${outDir}/input.png`),
  caption: "The input picture, resized to the model's 150×150 like Keras load_img.",
});
bar.tick();
const [first] = getActivations(model, input, ["conv2d_1"]);
for (const channel of [3, 30]) {
  const map = tf.tidy(() => first.activation.slice([0, 0, 0, channel], [1, -1, -1, 1]));
  entries.push({
    file: await matshow(map, { title: `conv2d_1, channel ${channel}`, colorbar: true })
      .save(`${outDir}/conv2d_1_channel_${channel}.png`),
    caption: `One channel of the first layer (the book looks at channels 3 and 30): a single ` +
      `filter's response over the image.`,
  });
  map.dispose();
  bar.tick();
}
first.activation.dispose();
for (const figure of showActivations(model, input)) {
  const name = figure.title.split(" ")[0];
  entries.push({
    file: await figure.save(`${outDir}/activations_${name}.png`),
    caption: `Every channel of ${name}, each standardised (x − mean)/std·64 + 128 and coloured ` +
      `with viridis. Early layers keep most of the picture; deeper ones grow abstract and sparse.`,
  });
  bar.tick();
}
bar.done();
input.dispose();
image.dispose();
await writeGallery(outDir, "convscope: what a convnet sees", entries);
console.log(
  `wrote ${entries.length} figures and ${outDir}index.html in ${
    ((performance.now() - started) / 1000).toFixed(1)
  } s`,
);
