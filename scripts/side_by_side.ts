/**
 * Dev-only: renders convscope's versions of the figures of the book's
 * section 5.4 for docs/book-side-by-side.md, on the book's own test picture
 * (cat.1700.jpg from ../shared, not shipped) with the shipped model, and
 * copies the book's figures beside them (from ../shared/reference/book-5.4,
 * the book's executed notebook).
 *
 *   deno run -A scripts/side_by_side.ts
 *
 * @module
 */
import { copyFile, mkdir } from "node:fs/promises";
import {
  filterGrid,
  getActivations,
  gradCam,
  imshow,
  informativeChannels,
  initBackend,
  loadBookModel,
  loadImage,
  matshow,
  showActivations,
  tf,
} from "../mod.ts";

const root = new URL("../", import.meta.url).pathname;
const shared = `${root}../shared`;
const out = `${root}docs/side-by-side`;
await mkdir(`${out}/book`, { recursive: true });
await mkdir(`${out}/convscope`, { recursive: true });

await initBackend();
const model = await loadBookModel();
const image = await loadImage(`${shared}/data/images/cat.1700.jpg`, {
  targetSize: [150, 150],
  interpolation: "nearest", // Keras load_img's default, as the book loads it
});
const input = tf.div(image, 255);
const save = async (figure: { save(p: string): Promise<string> }, name: string) => {
  await figure.save(`${out}/convscope/${name}.png`);
  console.log(`convscope/${name}.png`);
};

const p = tf.tidy(() => (model.predict(input.expandDims(0)) as tf.Tensor).dataSync()[0]);
await save(imshow(image, { title: `cat.1700, 150×150: P(dog) = ${p.toFixed(3)}` }), "input");

const [first] = await getActivations(model, input, ["conv2d_1"]);
const channels = informativeChannels(first.activation as tf.Tensor4D, 5);
for (const [i, channel] of channels.entries()) {
  const map = tf.slice(first.activation, [0, 0, 0, channel], [1, -1, -1, 1]);
  await save(
    matshow(map, { title: `conv2d_1, channel ${channel}`, cmap: "viridis" }),
    `channel_${i + 1}`,
  );
  map.dispose();
}
first.activation.dispose();

for (const figure of await showActivations(model, input)) {
  await save(figure, `activations_${figure.title.split(" ")[0]}`);
}

for (const layer of ["conv2d_1", "conv2d_2", "conv2d_3", "conv2d_4"]) {
  await save(await filterGrid(model, layer, { inputSize: 64, steps: 40 }), `filters_${layer}`);
}

const cam = await gradCam(model, input, { classIndex: 0, classNames: ["cat", "dog"] });
await save(
  matshow(cam.heatmap, { title: `Grad-CAM at ${cam.layer}: "cat"`, cmap: "viridis", ticks: true }),
  "gradcam_heatmap",
);
cam.heatmap.dispose();

for (
  const name of [
    "cell05_01",
    "cell10_02",
    "cell10_03",
    "cell10_04",
    "cell10_05",
    "cell10_06",
    "cell12_12",
    "cell12_13",
    "cell12_14",
    "cell12_15",
    "cell12_16",
    "cell12_17",
    "cell12_18",
    "cell12_19",
    "cell22_20",
  ]
) {
  await copyFile(`${shared}/reference/book-5.4/${name}.png`, `${out}/book/${name}.png`);
}
console.log(`channels shown: ${channels}`);
Deno.exit(0);
