import h5wasm from "h5wasm/node";
import {
  bookConvnet,
  initBackend,
  loadKerasModel,
  loadKerasWeights,
  loadMnistDigits,
  tf,
} from "../mod.ts";
import { assert, assertEquals, assertRejects } from "./assert.ts";

await initBackend();
const REAL = new URL("../../shared/data/models/mnist_cnn.h5", import.meta.url).pathname;
const hasReal = await Deno.stat(REAL).then(() => true, () => false);
if (!hasReal) console.warn(`SKIPPING the real Keras file test: ${REAL} is absent`);

/** Writes an HDF5 fixture with h5wasm: attributes and float32 datasets. */
async function writeH5(
  path: string,
  attrs: Record<string, string | string[]>,
  datasets: Record<string, { data: Float32Array; shape: number[] }> = {},
  groupAttrs: Record<string, Record<string, string[]>> = {},
): Promise<void> {
  await h5wasm.ready;
  const f = new h5wasm.File(path, "w");
  for (const [k, v] of Object.entries(attrs)) f.create_attribute(k, v);
  for (const [group, a] of Object.entries(groupAttrs)) {
    const g = f.create_group(group);
    for (const [k, v] of Object.entries(a)) g.create_attribute(k, v);
  }
  const made = new Set(Object.keys(groupAttrs));
  for (const [name, { data, shape }] of Object.entries(datasets)) {
    const parts = name.split("/");
    for (let i = 1; i < parts.length; i++) {
      const group = parts.slice(0, i).join("/");
      if (!made.has(group)) {
        f.create_group(group);
        made.add(group);
      }
    }
    f.create_dataset({ name, data, shape, dtype: "<f" });
  }
  f.close();
}

Deno.test({
  name: "the real Keras 2.3.1 MNIST file loads and classifies ≥ 98 % of the mnist package's digits",
  ignore: !hasReal,
  async fn() {
    const model = await loadKerasModel(REAL);
    assertEquals(model.layers.map((l) => l.getClassName()).slice(0, 3), [
      "Conv2D",
      "MaxPooling2D",
      "Conv2D",
    ]);
    const { train, test } = loadMnistDigits();
    let correct = 0, total = 0;
    for (const set of [train, test]) {
      const predicted = tf.tidy(() => (model.predict(set.x) as tf.Tensor).argMax(-1).dataSync());
      correct += set.labels.filter((label, i) => predicted[i] === label).length;
      total += set.labels.length;
      tf.dispose([set.x, set.y]);
    }
    assert(correct / total >= 0.98, `accuracy ${(100 * correct / total).toFixed(2)} %`);
  },
});

Deno.test("weights-only files load into a TypeScript architecture by layer name; mismatches are listed", async () => {
  const dir = await Deno.makeTempDir();
  const model = bookConvnet({ seed: 1 });
  const names = model.layers.map((l) => l.name);
  const datasets: Record<string, { data: Float32Array; shape: number[] }> = {};
  const groups: Record<string, Record<string, string[]>> = {};
  for (const layer of model.layers) {
    const weights = layer.getWeights();
    const weightNames = weights.map((_, i) => `${layer.name}/${i === 0 ? "kernel" : "bias"}:0`);
    groups[layer.name] = { weight_names: weightNames };
    weights.forEach((w, i) => {
      datasets[`${layer.name}/${weightNames[i]}`] = {
        data: Float32Array.from(w.dataSync(), (v) => v * 2),
        shape: w.shape,
      };
    });
  }
  await writeH5(`${dir}/good.h5`, { layer_names: names }, datasets, groups);
  const fresh = bookConvnet({ seed: 2 });
  await loadKerasWeights(fresh, `${dir}/good.h5`);
  const a = model.getLayer("conv2d_3").getWeights()[0].dataSync();
  const b = fresh.getLayer("conv2d_3").getWeights()[0].dataSync();
  assertEquals(b[17], a[17] * 2);
  // A misshaped kernel and a missing layer are both named.
  const bad: typeof datasets = {
    ...datasets,
    "conv2d_2/conv2d_2/kernel:0": { data: new Float32Array(9), shape: [3, 3, 1, 1] },
  };
  delete bad["dense_2/dense_2/kernel:0"];
  await writeH5(`${dir}/bad.h5`, { layer_names: names.filter((n) => n !== "dense_2") }, bad, {
    ...groups,
    dense_2: { weight_names: [] },
  });
  const error = await assertRejects(() => loadKerasWeights(bookConvnet(), `${dir}/bad.h5`));
  assert(
    error.message.includes('"conv2d_2" weight 0: file [3,3,1,1], layer [3,3,32,64]'),
    error.message,
  );
  assert(error.message.includes('"dense_2" has no weights in the file'), error.message);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("bad model files: Lambda refused, unknown layers named, corrupt and non-HDF5 files explained", async () => {
  const dir = await Deno.makeTempDir();
  const config = (cls: string) =>
    JSON.stringify({
      class_name: "Sequential",
      config: {
        name: "m",
        layers: [{ class_name: cls, config: { name: "odd_1", batch_input_shape: [null, 4] } }],
      },
    });
  await writeH5(`${dir}/lambda.h5`, { model_config: config("Lambda"), keras_version: "2.3.1" });
  await assertRejects(
    () => loadKerasModel(`${dir}/lambda.h5`),
    'layer "odd_1" is a Lambda layer, which carries Python code',
  );
  await writeH5(`${dir}/lstm.h5`, { model_config: config("LSTM"), keras_version: "2.3.1" });
  await assertRejects(
    () => loadKerasModel(`${dir}/lstm.h5`),
    'layer "odd_1" has class LSTM, which convscope cannot load',
  );
  await writeH5(`${dir}/weights_only.h5`, { layer_names: ["a"] });
  await assertRejects(
    () => loadKerasModel(`${dir}/weights_only.h5`),
    'no "model_config" attribute',
  );
  const good = await Deno.readFile(`${dir}/lambda.h5`);
  await assertRejects(() => loadKerasModel(good.slice(0, 600)), "corrupt or truncated HDF5");
  await assertRejects(
    () => loadKerasModel(new TextEncoder().encode("not hdf5")),
    "not an HDF5 file",
  );
  await assertRejects(
    () => loadKerasModel(new Uint8Array([0x50, 0x4b, 3, 4])),
    "Keras 3 .keras (zip)",
  );
  await Deno.remove(dir, { recursive: true });
});
