/**
 * The chapter's elephant pipeline: Keras' class indices, preprocess_input and
 * decode_predictions, and Grad-CAM on VGG16 at 224² down to block5_conv3's
 * 14×14 map. VGG16's ImageNet weights are not on this machine, so the
 * pipeline runs on random weights; the notebook runs it for real when they are.
 */
import {
  decodePredictions,
  gradCam,
  initBackend,
  loadImage,
  overlayHeatmap,
  tf,
  vgg16,
  vgg16Preprocess,
} from "../mod.ts";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./assert.ts";

await initBackend();

Deno.test("the ImageNet class table is in Keras' order (imagenet_class_index.json)", () => {
  // Keras: 0 n01440764 tench, 101 n01871265 tusker, 281 n02123045 tabby,
  // 386 n02504458 African_elephant, 999 n15075141 toilet_tissue.
  const expected: [number, RegExp][] = [
    [0, /^tench/],
    [101, /^tusker$/],
    [281, /^tabby/],
    [385, /^Indian elephant/],
    [386, /^African elephant/],
    [999, /^toilet tissue/],
  ];
  for (const [index, name] of expected) {
    const scores = new Float32Array(1000);
    scores[index] = 1;
    const [top] = decodePredictions(scores, 1);
    assertEquals(top.classIndex, index);
    assert(name.test(top.name), `${index}: ${top.name}`);
  }
  assertThrows(() => decodePredictions(new Float32Array(10)), /1,000 ImageNet scores/);
});

Deno.test("vgg16Preprocess is Keras' caffe mode: RGB → BGR, ImageNet means subtracted", () => {
  const pixel = tf.tensor3d([[[10, 20, 30]]]);
  const out = vgg16Preprocess(pixel);
  const [b, g, r] = out.dataSync();
  assertAlmostEquals(b, 30 - 103.939, 1e-4);
  assertAlmostEquals(g, 20 - 116.779, 1e-4);
  assertAlmostEquals(r, 10 - 123.68, 1e-4);
  assertThrows(() => vgg16Preprocess(tf.zeros([2, 2, 1])), /RGB/);
  tf.dispose([pixel, out]);
});

Deno.test("the elephant pipeline on VGG16 at 224²: prediction, decode, 14×14 Grad-CAM, overlay", async () => {
  const tensors = tf.memory().numTensors;
  const model = vgg16({ seed: 1 });
  const elephantPath = new URL(
    "../../shared/data/images/creative_commons_elephant.jpg",
    import.meta.url,
  );
  const picture = await Deno.stat(elephantPath).then(
    () => loadImage(elephantPath, { targetSize: [224, 224] }),
    () => tf.randomUniform([224, 224, 3], 0, 255, "float32", 2) as tf.Tensor3D,
  );
  const x = vgg16Preprocess(picture);
  const prediction = tf.tidy(() => (model.predict(x.expandDims(0)) as tf.Tensor).squeeze());
  const top = decodePredictions(prediction, 3);
  assertEquals(top.length, 3);
  assert(top[0].probability >= top[1].probability && top[1].probability >= top[2].probability);
  const cam = await gradCam(model, x, {
    classIndex: 386,
    layer: "block5_conv3",
    score: "probability",
  });
  assertEquals(cam.heatmap.shape, [14, 14]);
  assertEquals(cam.layer, "block5_conv3");
  const figure = overlayHeatmap(picture, cam.heatmap, { title: "African elephant" });
  assert(figure.png().length > 1000);
  tf.dispose([picture, x, prediction, cam.heatmap]);
  model.dispose();
  assertEquals(tf.memory().numTensors, tensors);
});
