import {
  initBackend,
  jitter,
  lpNorm,
  maximizeActivation,
  mnistConvnet,
  replaceToLinear,
  rotate,
  scale,
  SeededRandom,
  tf,
  totalVariation,
} from "../mod.ts";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "./assert.ts";

await initBackend();

Deno.test("regularisers: total variation and Lp norm as tf-keras-vis computes them", () => {
  const x = tf.tensor4d([0, 1, 2, 3], [1, 2, 2, 1]);
  // |2-0| + |3-1| + |1-0| + |3-2| = 6, over 4 values.
  assertAlmostEquals(totalVariation(1).apply(x).dataSync()[0], 1.5, 1e-6);
  // ‖x‖₂ = sqrt(14), n^(1/2) = 2.
  assertAlmostEquals(lpNorm(1, 2).apply(x).dataSync()[0], Math.sqrt(14) / 2, 1e-6);
  assertAlmostEquals(lpNorm(0.3, 1).apply(x).dataSync()[0], 0.3 * 6 / 4, 1e-6);
  x.dispose();
});

Deno.test("input modifiers keep shapes; jitter is a pure roll", () => {
  const x = tf.tensor4d(Array.from({ length: 16 }, (_, i) => i), [1, 4, 4, 1]);
  const r = new SeededRandom(3);
  const rolled = jitter(2).apply(x, r);
  assertEquals([...rolled.dataSync()].sort((a, b) => a - b), [...x.dataSync()]);
  for (const m of [rotate(10), scale(0.8, 0.9), scale(1.1, 1.2)]) {
    assertEquals(m.apply(x, r).shape, [1, 4, 4, 1]);
  }
  tf.dispose([x, rolled]);
});

Deno.test("maximizing a class raises its logit; best images are kept; no tensor leak", async () => {
  const model = mnistConvnet({ seed: 9 });
  const logit = (img: tf.Tensor, c: number) =>
    tf.tidy(() => {
      const linear = tf.model({ inputs: model.inputs, outputs: model.getLayer("dense_1").output });
      const [w, b] = model.getLayer("preds").getWeights();
      const z = tf.add(tf.matMul(linear.predict(img) as tf.Tensor2D, w as tf.Tensor2D), b);
      return tf.slice(z, [0, c], [-1, 1]).dataSync();
    });
  const start = tf.randomUniform([2, 28, 28, 1], 0, 1, "float32", 0);
  const options = {
    classIndex: [3, 7],
    inputRange: [0, 1] as [number, number],
    steps: 30,
    learningRate: 0.01,
    // Untrained logits are tiny; tf-keras-vis's regularisers would dominate them.
    regularizers: [],
    inputModifiers: [],
  };
  const before = tf.memory().numTensors;
  const again = await maximizeActivation(model, {
    ...options,
    steps: 100,
    inputModifiers: [jitter(2), rotate(2)],
  });
  again.images.dispose();
  assertEquals(tf.memory().numTensors, before);
  const { images, scores, bestStep } = await maximizeActivation(model, options);
  assertEquals(images.shape, [2, 28, 28, 1]);
  const after3 = logit(tf.slice(images, [0], [1]), 3)[0];
  assert(after3 > logit(tf.slice(start, [0], [1]), 3)[0] + 0.5, `class 3 logit ${after3}`);
  assertAlmostEquals(scores[0], after3, 1e-3);
  assert(bestStep.every((s) => s >= 0 && s < 30));
  assert(tf.tidy(() => images.min().dataSync()[0] >= 0 && images.max().dataSync()[0] <= 1));
  tf.dispose([images, start]);
  await assertRejects(
    () => maximizeActivation(model, { classIndex: 10 }),
    'classIndex 10 is out of range: layer "preds" has 10 units',
  );
});

Deno.test("replaceToLinear returns a linear copy and leaves the original alone", async () => {
  const model = mnistConvnet({ seed: 2 });
  const copy = await replaceToLinear(model);
  assertEquals(model.layers.at(-1)!.getConfig().activation, "softmax");
  assertEquals(copy.layers.at(-1)!.getConfig().activation, "linear");
  const x = tf.randomUniform([1, 28, 28, 1]);
  const [p, z] = [model.predict(x) as tf.Tensor, copy.predict(x) as tf.Tensor];
  assertAlmostEquals(tf.sum(p).dataSync()[0], 1, 1e-5);
  // softmax(copy) == original
  assert(tf.max(tf.abs(tf.sub(tf.softmax(z), p))).dataSync()[0] < 1e-5);
  tf.dispose([x, p, z]);
  copy.dispose();
});

Deno.test("one sigmoid output is two classes for maximisation too: class 0 lowers the logit, class 1 raises it", async () => {
  const { bookConvnet } = await import("../mod.ts");
  const model = bookConvnet({ seed: 11 });
  const logit = (images: tf.Tensor4D) =>
    tf.tidy(() => {
      const dense = model.getLayer("dense_2") as unknown as { activation: unknown };
      const saved = dense.activation;
      dense.activation = { apply: (x: tf.Tensor) => x, getClassName: () => "linear" };
      try {
        return [...(model.predict(images) as tf.Tensor).dataSync()];
      } finally {
        dense.activation = saved;
      }
    });
  const { images, scores } = await maximizeActivation(model, {
    classIndex: [0, 1],
    inputRange: [0, 1],
    steps: 6,
    regularizers: [],
    inputModifiers: [],
  });
  const [cat, dog] = logit(images);
  // Each image's score is its class's: −logit for class 0, +logit for class 1.
  assert(
    Math.abs(scores[0] + cat) < 1e-4 && Math.abs(scores[1] - dog) < 1e-4,
    `${scores} vs ${cat}, ${dog}`,
  );
  assert(dog > cat, `class 1's image should have the higher logit: ${cat} vs ${dog}`);
  images.dispose();
  model.dispose();
});
