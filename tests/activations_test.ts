import * as tf from "@tensorflow/tfjs";
import {
  activationModel,
  bookConvnet,
  getActivations,
  initBackend,
  mnistConvnet,
  threeClassConvnet,
  vgg16,
} from "../mod.ts";
import { assertEquals, assertRejects, assertThrows } from "./assert.ts";

await initBackend();

Deno.test("the book's convnet yields the seed's 8 activation shapes", async () => {
  const model = bookConvnet();
  const input = tf.randomUniform([1, 150, 150, 3]);
  const acts = await getActivations(model, input);
  assertEquals(acts.map((a) => [a.name, a.activation.shape]), [
    ["conv2d_1", [1, 148, 148, 32]],
    ["max_pooling2d_1", [1, 74, 74, 32]],
    ["conv2d_2", [1, 72, 72, 64]],
    ["max_pooling2d_2", [1, 36, 36, 64]],
    ["conv2d_3", [1, 34, 34, 128]],
    ["max_pooling2d_3", [1, 17, 17, 128]],
    ["conv2d_4", [1, 15, 15, 128]],
    ["max_pooling2d_4", [1, 7, 7, 128]],
  ]);
  // Parameter counts of seed 001's summary.
  assertEquals(model.getLayer("conv2d_2").countParams(), 18496);
  assertEquals(model.getLayer("dense_1").countParams(), 3211776);
  acts.forEach((a) => a.activation.dispose());
  input.dispose();
});

Deno.test("activations equal the full model's own layers (first layer = relu(conv))", async () => {
  const model = bookConvnet();
  const input = tf.randomUniform([150, 150, 3]);
  const [a] = await getActivations(model, input, ["conv2d_1"]);
  const [kernel, bias] = model.getLayer("conv2d_1").getWeights();
  const expected = tf.tidy(() =>
    tf.relu(
      tf.add(
        tf.conv2d(input.expandDims(0) as tf.Tensor4D, kernel as tf.Tensor4D, 1, "valid"),
        bias,
      ),
    )
  );
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(expected, a.activation))).dataSync()[0]);
  assertEquals(diff < 1e-5, true, `max difference ${diff}`);
  a.activation.dispose();
  expected.dispose();
  input.dispose();
});

Deno.test("seed 002 and seed 004 architectures have their names and shapes", () => {
  const three = threeClassConvnet();
  assertEquals(three.layers.map((l) => l.name), [
    "conv2d",
    "max_pooling2d",
    "conv2d_1",
    "max_pooling2d_1",
    "conv2d_2",
    "max_pooling2d_2",
    "flatten",
    "dense",
    "dense_1",
    "dense_2",
  ]);
  assertEquals(three.getLayer("conv2d_1").outputShape, [null, 72, 72, 16]);
  const mnist = mnistConvnet();
  assertEquals(mnist.getLayer("max_pooling2d_1").outputShape, [null, 12, 12, 64]);
  assertEquals(mnist.getLayer("preds").outputShape, [null, 10]);
  assertEquals(mnist.countParams(), 1199882);
  assertEquals(
    vgg16({ includeTop: false, inputShape: [64, 64, 3] }).getLayer("block5_conv3").outputShape,
    [null, 4, 4, 512],
  );
});

Deno.test("layer selection by names, indices and predicate; bad ones are named", async () => {
  const model = bookConvnet();
  assertEquals(activationModel(model, [2, "conv2d_1"]).outputs.map((o) => o.shape), [[
    null,
    148,
    148,
    32,
  ], [null, 72, 72, 64]]);
  assertEquals(activationModel(model, (l) => l.name.startsWith("dense")).outputs.length, 2);
  await assertRejects(
    () => getActivations(model, tf.zeros([150, 150, 3]), ["conv2d_9"]),
    'No layer named "conv2d_9"',
  );
  assertThrows(() => activationModel(model, ["nope"]), "Valid names: conv2d_1, max_pooling2d_1");
  assertThrows(() => activationModel(model, [42]), "Layer index 42 is out of range");
});

Deno.test("a wrongly shaped input is refused with the expected shape", async () => {
  const model = bookConvnet();
  const wrong = tf.zeros([100, 100, 3]);
  await assertRejects(() => getActivations(model, wrong), "expects [batch,150,150,3]");
  wrong.dispose();
});

Deno.test("100 repeated getActivations calls leak no tensors", async () => {
  const model = bookConvnet();
  const input = tf.randomUniform([150, 150, 3]);
  const once = async () =>
    (await getActivations(model, input)).forEach((a) => a.activation.dispose());
  await once();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 100; i++) await once();
  assertEquals(tf.memory().numTensors, before);
  input.dispose();
});

Deno.test("a model whose convolutions sit in a nested base: every one recorded, equal to the base's own outputs, no leak", async () => {
  // The 2nd edition's fine-tuning layout: a keras.applications-style base inside a Sequential.
  const baseInput = tf.input({ shape: [32, 32, 3] });
  const c1 = tf.layers.conv2d({ filters: 8, kernelSize: 3, activation: "relu", name: "b_conv1" })
    .apply(baseInput) as tf.SymbolicTensor;
  const p1 = tf.layers.maxPooling2d({ poolSize: 2, name: "b_pool1" }).apply(
    c1,
  ) as tf.SymbolicTensor;
  const c2 = tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: "relu", name: "b_conv2" })
    .apply(p1) as tf.SymbolicTensor;
  const base = tf.model({ inputs: baseInput, outputs: c2, name: "base" });
  const model = tf.sequential({
    layers: [base, tf.layers.flatten(), tf.layers.dense({ units: 2, activation: "softmax" })],
  });
  const input = tf.randomUniform([1, 32, 32, 3], 0, 1, "float32", 5);
  const tensors = tf.memory().numTensors;
  const acts = await getActivations(model, input);
  assertEquals(acts.map((a) => [a.name, a.activation.shape]), [
    ["base/b_conv1", [1, 30, 30, 8]],
    ["base/b_pool1", [1, 15, 15, 8]],
    ["base/b_conv2", [1, 13, 13, 4]],
  ]);
  const own = activationModel(base, ["b_conv1", "b_pool1", "b_conv2"]).predict(
    input,
  ) as tf.Tensor[];
  acts.forEach((a, i) => {
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a.activation, own[i]))).dataSync()[0]);
    assertEquals(diff < 1e-6, true, `${a.name} differs by ${diff}`);
  });
  tf.dispose([...own, ...acts.map((a) => a.activation)]);
  assertEquals(tf.memory().numTensors, tensors);
  tf.dispose([input]);
  model.dispose();
});
