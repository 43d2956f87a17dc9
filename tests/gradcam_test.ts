import { gradCam, initBackend, lastConvLayer, tf } from "../mod.ts";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "./assert.ts";

await initBackend();

/**
 * 8×8×1 input → conv 1×1 (2 channels: +x and −x, relu) → global average →
 * dense 2 (class 0 reads channel 0, class 1 reads channel 1) → softmax/sigmoid.
 */
function tinyModel(head: "softmax" | "sigmoid" = "softmax"): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 1] });
  const conv = tf.layers.conv2d({
    filters: 2,
    kernelSize: 1,
    activation: "relu",
    name: "conv",
    useBias: false,
  });
  const pool = tf.layers.globalAveragePooling2d({ name: "gap" });
  const dense = tf.layers.dense({
    units: head === "softmax" ? 2 : 1,
    activation: head,
    name: "out",
  });
  const output = dense.apply(pool.apply(conv.apply(input))) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: output });
  conv.setWeights([tf.tensor4d([1, -1], [1, 1, 1, 2])]);
  dense.setWeights(
    head === "softmax"
      ? [tf.tensor2d([[4, 0], [0, 4]]), tf.zeros([2])]
      : [tf.tensor2d([[-4], [4]]), tf.zeros([1])],
  );
  return model;
}

/** +1 in the top-left quadrant, −1 in the bottom-right, 0 elsewhere. */
function quadrantImage(): tf.Tensor3D {
  const data = new Float32Array(64);
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 8; x++) {
      if (y < 4 && x < 4) data[y * 8 + x] = 1;
      if (y >= 4 && x >= 4) data[y * 8 + x] = -1;
    }
  }
  return tf.tensor3d(data, [8, 8, 1]);
}

const quadrantMean = (m: number[][], top: boolean, left: boolean) => {
  let s = 0;
  for (let y = 0; y < 4; y++) {
    for (let x = 0; x < 4; x++) s += m[(top ? 0 : 4) + y][(left ? 0 : 4) + x];
  }
  return s / 16;
};

Deno.test("the heatmap of each class peaks where its evidence is, for every method", async () => {
  const model = tinyModel();
  const image = quadrantImage();
  for (const method of ["gradcam", "gradcam++", "layercam"] as const) {
    const c0 = await gradCam(model, image, { classIndex: 0, method });
    const m0 = c0.heatmap.arraySync();
    assertEquals(c0.layer, "conv");
    assertAlmostEquals(quadrantMean(m0, true, true), 1, 1e-5, method);
    assertAlmostEquals(quadrantMean(m0, false, false), 0, 1e-6, method);
    const c1 = await gradCam(model, image, { classIndex: 1, method });
    const m1 = c1.heatmap.arraySync();
    assertAlmostEquals(quadrantMean(m1, false, false), 1, 1e-5, method);
    assertAlmostEquals(quadrantMean(m1, true, true), 0, 1e-6, method);
    tf.dispose([c0.heatmap, c1.heatmap]);
  }
  image.dispose();
});

Deno.test("a single sigmoid output: class 1 by the logit, class 0 by its negation; default = prediction", async () => {
  const model = tinyModel("sigmoid");
  const image = quadrantImage();
  const dog = await gradCam(model, image, { classIndex: 1, classNames: ["cat", "dog"] });
  const cat = await gradCam(model, image, { classIndex: 0, classNames: ["cat", "dog"] });
  assertEquals([dog.className, cat.className], ["dog", "cat"]);
  assertAlmostEquals(quadrantMean(dog.heatmap.arraySync(), false, false), 1, 1e-5);
  assertAlmostEquals(quadrantMean(cat.heatmap.arraySync(), true, true), 1, 1e-5);
  // Both channels average 0.25, so the logit is 0 and p = 0.5: the default is class 0.
  assertEquals((await gradCam(model, image)).classIndex, 0);
  await assertRejects(
    () => gradCam(model, image, { classIndex: 2 }),
    "classIndex 2 is out of range: the model has 2 classes",
  );
  tf.dispose([dog.heatmap, cat.heatmap, image]);
});

Deno.test("nested models: the last convolution is found inside a Sequential inside a Functional model", async () => {
  const base = tf.sequential({
    name: "base",
    layers: [
      tf.layers.conv2d({
        inputShape: [16, 16, 3],
        filters: 4,
        kernelSize: 3,
        activation: "relu",
        name: "c1",
      }),
      tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: "relu", name: "c2" }),
      tf.layers.maxPooling2d({ poolSize: 2, name: "pool" }),
    ],
  });
  const input = tf.input({ shape: [16, 16, 3] });
  const x = tf.layers.flatten().apply(base.apply(input)) as tf.SymbolicTensor;
  const model = tf.model({
    inputs: input,
    outputs: tf.layers.dense({ units: 3, activation: "softmax" }).apply(x) as tf.SymbolicTensor,
  });
  assertEquals(lastConvLayer(model).path, "base/c2");
  const image = tf.randomUniform([16, 16, 3]);
  const cam = await gradCam(model, image);
  assertEquals(cam.layer, "base/c2");
  assertEquals(cam.heatmap.shape, [12, 12]);
  const values = cam.heatmap.dataSync();
  assert(values.every((v) => v >= 0 && v <= 1 && !Number.isNaN(v)));
  assertEquals((await gradCam(model, image, { layer: "c1" })).heatmap.shape, [14, 14]);
  await assertRejects(
    () => gradCam(model, image, { layer: "nope" }),
    "base/c1, base/c2, base/pool",
  );
  cam.heatmap.dispose();
  image.dispose();
});

Deno.test("an all-zero map is returned as zeros (no NaN) and flagged", async () => {
  const model = tinyModel();
  const blank = tf.zeros([8, 8, 1]);
  const cam = await gradCam(model, blank, { classIndex: 0 });
  assertEquals(cam.empty, true);
  assertEquals([...cam.heatmap.dataSync()], new Array(64).fill(0));
  tf.dispose([cam.heatmap, blank]);
});

Deno.test("gradCam leaks no tensors and leaves the model unchanged", async () => {
  const model = tinyModel("sigmoid");
  const image = quadrantImage();
  const before = tf.memory().numTensors;
  const predict = () =>
    tf.tidy(() => (model.predict(image.expandDims(0)) as tf.Tensor).dataSync()[0]);
  const p0 = predict();
  for (let i = 0; i < 20; i++) {
    (await gradCam(model, image, { method: "gradcam++" })).heatmap.dispose();
  }
  assertEquals(tf.memory().numTensors, before);
  // The output activation was swapped to linear for the logit and put back.
  assertEquals(predict(), p0);
  image.dispose();
});

Deno.test("overlay: same size as the image, heatmap resized bilinearly and blended like the book", async () => {
  const { camPanels, saliency } = await import("../mod.ts");
  const { overlayRaster } = await import("../src/plot/heatmap.ts");
  const image = tf.fill([6, 10, 3], 100);
  const heat = tf.tensor2d([[0, 1], [0, 1]]);
  const r = overlayRaster(image, heat, { blend: "saturate" });
  assertEquals([r.width, r.height], [10, 6]);
  // Left edge: heat 0 → jet[0] = (0, 0, 127); 100 + 0.4·127 = 150.8 → 151.
  assertEquals([...r.data.subarray(0, 3)], [100, 100, 151]);
  // Right edge: heat 1 → jet[255] = (127, 0, 0).
  const right = (5 * 10 + 9) * 3;
  assertEquals([...r.data.subarray(right, right + 3)], [151, 100, 100]);
  // The default rescales the sum to 0–255 like the 2nd edition's array_to_img.
  const stretched = overlayRaster(image, heat);
  assertEquals(Math.max(...stretched.data), 255);
  assertEquals(Math.min(...stretched.data), 0);
  const panels = camPanels(image, heat, { title: "t" });
  assert(panels.width > 3 * 300);
  // Saliency of the tiny model: only the quadrants that feed the class score matter.
  const model = tinyModel();
  const map = await saliency(model, quadrantImage(), { classIndex: 0 });
  assertEquals(map.shape, [8, 8]);
  assertAlmostEquals(tf.max(map).dataSync()[0], 1, 1e-6);
  const smooth = await saliency(model, quadrantImage(), { classIndex: 0, smoothSamples: 8 });
  assert(smooth.dataSync().every((v) => v >= 0 && v <= 1));
  tf.dispose([image, heat, map, smooth]);
});
