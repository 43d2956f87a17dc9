/**
 * `deno task demo`: the whole chapter on the shipped models and bundled
 * pictures, written to out/ with an index.html gallery. Offline: everything
 * it reads ships with the project.
 *
 * Options: an image path (default notebooks/images/chelsea.png); --quick for
 * fewer ascent steps and filters.
 *
 * @module
 */
import {
  bookConvnet,
  camPanels,
  classGrid,
  explore,
  filterGrid,
  getActivations,
  gradCam,
  hstack,
  imshow,
  informativeChannels,
  initBackend,
  loadBookModel,
  loadImage,
  loadModel,
  lpNorm,
  matshow,
  mnistConvnet,
  ProgressBar,
  saliency,
  showActivations,
  tf,
  totalVariation,
} from "../mod.ts";
import { type GalleryEntry, writeGallery } from "./gallery.ts";

const started = performance.now();
const quick = Deno.args.includes("--quick") || Deno.env.get("CONVSCOPE_QUICK") === "1";
const root = new URL("../", import.meta.url).pathname;
const outDir = `${root}out`;
const imagePath = Deno.args.find((a) => !a.startsWith("--")) ??
  `${root}notebooks/images/chelsea.png`;
const info = await initBackend();
console.log(
  `convscope demo on ${info.backend} (SIMD ${info.simd}, ${info.threads} threads)${
    quick ? ", quick" : ""
  }`,
);

let model: tf.LayersModel;
let trained = true;
try {
  model = await loadBookModel();
} catch {
  trained = false;
  model = bookConvnet();
  console.log(
    "(no trained model in models/cats_and_dogs_small: using random weights; run `deno task train`)",
  );
}
const convLayers = ["conv2d_1", "conv2d_2", "conv2d_3", "conv2d_4"];
const figureCount = 3 + 8 + convLayers.length + 3 + 2 + 1;
const bar = new ProgressBar({ total: figureCount, label: "figures" });
const entries: GalleryEntry[] = [];
const add = async (
  name: string,
  figure: { save(p: string): Promise<string> },
  caption: string,
  section?: string,
) => {
  entries.push({ file: await figure.save(`${outDir}/${name}.png`), caption, section });
  bar.tick();
};

const image = await loadImage(imagePath, { targetSize: [150, 150] });
const input = tf.div(image, 255);
const p = tf.tidy(() => (model.predict(input.expandDims(0)) as tf.Tensor).dataSync()[0]);
await add(
  "input",
  imshow(image, { title: `input: P(dog) = ${p.toFixed(3)}`, size: 300 }),
  `The picture, resized to 150×150 like Keras load_img. The ${
    trained ? "trained" : "untrained"
  } book convnet ` +
    `says ${p > 0.5 ? "dog" : "cat"} (P(dog) = ${p.toFixed(3)}).`,
  "1. Intermediate activations",
);
const [first] = await getActivations(model, input, ["conv2d_1"]);
const silentChannels = tf.tidy(() =>
  [...tf.max(first.activation, [0, 1, 2]).dataSync()].filter((m) => m <= 0).length
);
// The book draws channels 3 and 30 of its model because they show an edge and
// an eye detector; ours are other filters, so the two that vary most over
// this picture are drawn (never a blank one).
const shown = informativeChannels(first.activation as tf.Tensor4D, 2);
for (const [rank, channel] of shown.entries()) {
  const map = tf.slice(first.activation, [0, 0, 0, channel], [1, -1, -1, 1]);
  await add(
    `conv2d_1_channel_${channel}`,
    matshow(map, { title: `conv2d_1, channel ${channel}`, colorbar: true }),
    `One channel of the first layer: one filter's response over the picture. Channel ${channel} is the ` +
      `${rank === 0 ? "most" : "second most"} varied of the layer's ${
        first.activation.shape[3]
      } on this picture ` +
      `(largest spatial standard deviation), chosen for what it shows, as the book chose its channels 3 and 30; ` +
      `${silentChannels} of the ${first.activation.shape[3]} are zero everywhere on this picture.`,
  );
  map.dispose();
}
first.activation.dispose();
for (const figure of await showActivations(model, input)) {
  const name = figure.title.split(" ")[0];
  await add(
    `activations_${name}`,
    figure,
    `Every channel of ${name}, each standardised (x − mean)/std·64 + 128 and coloured with viridis. ` +
      `Early layers keep most of the picture; deeper ones grow abstract and sparse; dark flat tiles are filters this picture does not excite (the title counts them).`,
  );
}

for (const [i, layer] of convLayers.entries()) {
  const figure = await filterGrid(model, layer, {
    filters: quick ? 16 : 64,
    cols: quick ? 4 : 8,
    steps: quick ? 10 : 40,
    inputSize: 64,
  });
  await add(
    `filters_${layer}`,
    figure,
    `The input each filter of ${layer} responds to most: gradient ascent from grey noise (the book's recipe, 40 steps, ` +
      `in the model's [0, 1] pixel range), maximising the filter's output before its ReLU, as the 2nd edition and Lucid do. ` +
      `After the ReLU (the 1st edition's objective), a filter that is zero everywhere on the grey start image has no ` +
      `gradient and stays noise: most of this model's filters would. The caption counts tiles still noise.`,
    i === 0 ? "2. Filter patterns" : undefined,
  );
}

{
  const common = { filters: 8, cols: 4, inputSize: 80 };
  const figure = hstack([
    await filterGrid(model, "conv2d_3", {
      ...common,
      steps: quick ? 10 : 40,
      objective: "post-activation",
      title: "1st edition: after ReLU",
    }),
    await filterGrid(model, "conv2d_3", {
      ...common,
      steps: quick ? 10 : 40,
      title: "before ReLU (2nd ed.)",
    }),
    await filterGrid(model, "conv2d_3", {
      ...common,
      steps: quick ? 16 : 192,
      parameterization: "fourier",
      title: "Fourier + robustness (Lucid)",
    }),
  ]);
  await add(
    "filters_book_vs_lucid",
    figure,
    "The same eight conv2d_3 filters three ways. Left, the 1st edition's objective, the ReLU'd output: filters that are " +
      "zero on the grey start image get no gradient and stay noise. Middle, the same 40 pixel steps on the output before " +
      "the ReLU: every filter moves. Right, Lucid's recipe (the image as a 1/f-weighted Fourier spectrum, so it stays " +
      "smooth; decorrelated colour; random jitter, scale and rotation each step; Adam): textures instead of pixel noise.",
  );
}

const coffee = await loadImage(`${root}notebooks/images/coffee.png`, { targetSize: [150, 150] });
for (const [name, picture] of [["chelsea", image], ["coffee", coffee]] as const) {
  const x = tf.div(picture, 255);
  const cams = [];
  for (const classIndex of [0, 1]) {
    cams.push(await gradCam(model, x, { classIndex, classNames: ["cat", "dog"] }));
  }
  for (const cam of cams) {
    await add(
      `gradcam_${name}_${cam.className}`,
      camPanels(picture, cam.heatmap, {
        title: `Grad-CAM at ${cam.layer}: evidence for "${cam.className}"`,
      }),
      `Where the model sees "${cam.className}" in ${name} (P(dog) = ${
        cam.prediction[0].toFixed(3)
      }): the gradient of the ` +
        `class score weighs the last convolution's channels; red is strong evidence.`,
      name === "chelsea" && cam === cams[0] ? "3. Class activation heatmaps" : undefined,
    );
    cam.heatmap.dispose();
  }
  if (name === "chelsea") {
    const map = await saliency(model, x, { smoothSamples: quick ? 4 : 16 });
    await add(
      "saliency_chelsea",
      camPanels(picture, map, { title: "SmoothGrad saliency", cmap: "inferno", size: 300 }),
      "SmoothGrad: how much each pixel moves the class score (its gradient's largest colour channel, " +
        "averaged over 16 noisy copies of the picture), with its colorbar and over the picture.",
    );
    map.dispose();
  }
  x.dispose();
}
tf.dispose([coffee]);

let mnist: tf.LayersModel;
try {
  mnist = await loadModel(`${root}models/mnist_cnn`);
} catch {
  mnist = mnistConvnet();
}
await add(
  "mnist_classes",
  await classGrid(mnist, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], {
    inputRange: [0, 1],
    steps: quick ? 30 : 200,
    learningRate: 0.01,
    regularizers: [totalVariation(10), lpNorm(10, 2)],
    inputModifiers: [],
  }),
  "Activation maximisation of each class of the MNIST convnet (softmax swapped for linear, as keras-vis advises; total variation and L2 at tf-keras-vis' weights, no shifts: at 28×28 they blur): the input it finds most like each digit, with its logit.",
  "4. Maximising class outputs",
);
bar.done();
// The gallery opens with the explorer over the same picture; the PNGs follow.
const explorer = await explore(model, input, { classNames: ["cat", "dog"] });
input.dispose();
image.dispose();
await writeGallery(outDir, "convscope: what a convnet learns", entries, {
  explorer: explorer.html,
});
console.log(
  `wrote ${entries.length} figures and ${outDir}/index.html in ${
    ((performance.now() - started) / 1000).toFixed(1)
  } s`,
);
