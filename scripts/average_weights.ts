/**
 * `deno run -A scripts/average_weights.ts DIR...`: averages the weights of
 * several saved snapshots of one model (stochastic weight averaging,
 * Izmailov et al., 2018) and reports the average's accuracy on the book's
 * validation pictures beside each snapshot's. The book convnet has no batch
 * normalisation, so an average needs no statistics recomputed.
 *
 * Options: --data DIR (default ../shared/data/cats_and_dogs_small), --out DIR
 * (saves the average as float16, with the model's input range, when given).
 *
 * @module
 */
import {
  evaluate,
  imageDatasetFromDirectory,
  initBackend,
  loadModel,
  saveModel,
  setModelInputRange,
  tf,
} from "../mod.ts";

const args = [...Deno.args];
const option = (name: string) => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const [, value] = args.splice(i, 2);
  return value;
};
const root = new URL("../", import.meta.url).pathname;
const data = option("--data") ?? `${root}../shared/data/cats_and_dogs_small`;
const out = option("--out");
if (args.length < 2) {
  console.error("usage: average_weights.ts [--data DIR] [--out DIR] SNAPSHOT_DIR SNAPSHOT_DIR...");
  Deno.exit(2);
}
await initBackend();
const validation = await imageDatasetFromDirectory(`${data}/validation`, {
  targetSize: [150, 150],
  batchSize: 50,
  rescale: 1 / 255,
  shuffle: false,
});
const models = [];
for (const dir of args) {
  const model = await loadModel(`${dir}/model.json`);
  const { acc, loss } = await evaluate(model, validation);
  console.log(`${dir}: val_acc ${acc.toFixed(4)} val_loss ${loss.toFixed(4)}`);
  models.push(model);
}
const [first, ...rest] = models;
const averaged = first.getWeights().map((w, i) =>
  tf.tidy(() =>
    tf.div(rest.reduce((sum, m) => tf.add(sum, m.getWeights()[i]), w as tf.Tensor), models.length)
  )
);
first.setWeights(averaged);
tf.dispose(averaged);
const { acc, loss } = await evaluate(first, validation);
console.log(`average of ${models.length}: val_acc ${acc.toFixed(4)} val_loss ${loss.toFixed(4)}`);
if (out) {
  setModelInputRange(first, [0, 1]); // rescale: 1 / 255
  await saveModel(first, out, { float16: true });
  console.log(`saved to ${out}`);
}
