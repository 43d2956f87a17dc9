import h5wasm from "h5wasm/node";
import {
  bookConvnet,
  initBackend,
  loadKerasModel,
  loadKerasWeights,
  loadMnistDigits,
  modelSummary,
  saveModel,
  tf,
} from "../mod.ts";
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { type Array32, randomArray, writeH5 } from "./fixtures/keras_files.ts";
import * as ref from "./fixtures/reference_forward.ts";

await initBackend();
const REAL = new URL("../../shared/data/models/mnist_cnn.h5", import.meta.url).pathname;
const hasReal = await Deno.stat(REAL).then(() => true, () => false);
if (!hasReal) console.warn(`SKIPPING the real Keras file tests: ${REAL} is absent`);

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
    model.dispose();
  },
});

Deno.test({
  name:
    "the real Keras file: every layer's activation equals plain loops over the raw HDF5 weights (≤ 1e-4)",
  ignore: !hasReal,
  async fn() {
    // The weights are read here straight from the file, not through convscope's loader.
    await h5wasm.ready;
    const file = new h5wasm.File(REAL, "r");
    const raw = (layer: string, weight: string) =>
      Float64Array.from(
        (file.get(`model_weights/${layer}/${layer}/${weight}:0`) as unknown as {
          value: Float32Array;
        })
          .value as Float32Array,
      );
    const shape = (layer: string) =>
      (file.get(`model_weights/${layer}/${layer}/kernel:0`) as unknown as { shape: number[] })
        .shape;
    const model = await loadKerasModel(REAL);
    const { test } = loadMnistDigits();
    const digit = tf.tidy(() => test.x.slice([0, 0, 0, 0], [1, 28, 28, 1]));
    const x: ref.Act = { data: Float64Array.from(digit.dataSync()), shape: [28, 28, 1] };
    const conv = (a: ref.Act, name: string) =>
      ref.map(
        ref.conv2d(a, raw(name, "kernel"), shape(name), raw(name, "bias"), "valid"),
        ref.relu,
      );
    const expected: Record<string, ref.Act> = {};
    expected.conv2d_1 = conv(x, "conv2d_1");
    expected.max_pooling2d_1 = ref.maxPool2(expected.conv2d_1);
    expected.conv2d_2 = conv(expected.max_pooling2d_1, "conv2d_2");
    expected.max_pooling2d_2 = ref.maxPool2(expected.conv2d_2);
    expected.conv2d_3 = conv(expected.max_pooling2d_2, "conv2d_3");
    expected.flatten_1 = expected.conv2d_3;
    expected.dense_1 = ref.map(
      ref.dense(expected.flatten_1, raw("dense_1", "kernel"), raw("dense_1", "bias")),
      ref.relu,
    );
    expected.dense_2 = ref.softmax(
      ref.dense(expected.dense_1, raw("dense_2", "kernel"), raw("dense_2", "bias")),
    );
    file.close();
    assertEquals(Object.keys(expected).length, 8);
    await ref.assertActivationsMatch(model, digit, expected);
    tf.dispose([digit, test.x, test.y]);
    model.dispose();
  },
});

/** Keras 2 `model_weights` layout: per-layer groups, `layer_names`, `weight_names`. */
function keras2Weights(
  layers: Record<string, Record<string, Array32>>,
  prefix = "model_weights/",
) {
  const datasets: Record<string, Array32> = {};
  const groupAttrs: Record<string, Record<string, string[]>> = {};
  for (const [layer, weights] of Object.entries(layers)) {
    const names = Object.keys(weights).map((w) => `${layer}/${w}:0`);
    groupAttrs[`${prefix}${layer}`] = { weight_names: names };
    for (const [w, value] of Object.entries(weights)) {
      datasets[`${prefix}${layer}/${layer}/${w}:0`] = value;
    }
  }
  return { datasets, groupAttrs };
}

Deno.test("Keras 2 Functional .h5 (Add merge, nested Sequential, legacy node lists) matches plain loops", async () => {
  const dir = await Deno.makeTempDir();
  const conv = (name: string, inbound: string) => ({
    class_name: "Conv2D",
    name,
    config: {
      name,
      filters: 2,
      kernel_size: [3, 3],
      strides: [1, 1],
      padding: "same",
      activation: "relu",
      use_bias: true,
      dtype: "float32",
    },
    inbound_nodes: [[[inbound, 0, 0, {}]]],
  });
  const config = {
    class_name: "Model",
    config: {
      name: "model_1",
      layers: [
        {
          class_name: "InputLayer",
          name: "input_1",
          config: { batch_input_shape: [null, 6, 6, 1], dtype: "float32", name: "input_1" },
          inbound_nodes: [],
        },
        conv("conv2d_1", "input_1"),
        {
          class_name: "Sequential",
          name: "sequential_1",
          config: {
            name: "sequential_1",
            layers: [{
              class_name: "Conv2D",
              config: {
                name: "conv2d_2",
                batch_input_shape: [null, 6, 6, 2],
                filters: 2,
                kernel_size: [3, 3],
                padding: "same",
                activation: "relu",
                use_bias: true,
              },
            }],
          },
          inbound_nodes: [[["conv2d_1", 0, 0, {}]]],
        },
        {
          class_name: "Add",
          name: "add_1",
          config: { name: "add_1" },
          // Keras 2 counts a nested model's built-in first node: its first call is node 1.
          inbound_nodes: [[["conv2d_1", 0, 0, {}], ["sequential_1", 1, 0, {}]]],
        },
        {
          class_name: "Flatten",
          name: "flatten_1",
          config: { name: "flatten_1" },
          inbound_nodes: [[["add_1", 0, 0, {}]]],
        },
        {
          class_name: "Dense",
          name: "dense_1",
          config: { name: "dense_1", units: 2, activation: "softmax" },
          inbound_nodes: [[["flatten_1", 0, 0, {}]]],
        },
      ],
      input_layers: [["input_1", 0, 0]],
      output_layers: [["dense_1", 0, 0]],
    },
  };
  const w = {
    k1: randomArray([3, 3, 1, 2], 31),
    b1: randomArray([2], 32, 0.1),
    k2: randomArray([3, 3, 2, 2], 33),
    b2: randomArray([2], 34, 0.1),
    k3: randomArray([72, 2], 35),
    b3: randomArray([2], 36, 0.1),
  };
  // A nested model's group holds its inner layers' weights under their own names.
  const { datasets, groupAttrs } = keras2Weights({
    conv2d_1: { kernel: w.k1, bias: w.b1 },
    dense_1: { kernel: w.k3, bias: w.b3 },
  });
  datasets["model_weights/sequential_1/conv2d_2/kernel:0"] = w.k2;
  datasets["model_weights/sequential_1/conv2d_2/bias:0"] = w.b2;
  groupAttrs["model_weights/sequential_1"] = {
    weight_names: ["conv2d_2/kernel:0", "conv2d_2/bias:0"],
  };
  for (const g of ["input_1", "add_1", "flatten_1"]) {
    groupAttrs[`model_weights/${g}`] = { weight_names: [] };
  }
  await writeH5(`${dir}/functional.h5`, {
    attrs: { model_config: JSON.stringify(config), keras_version: "2.3.1", backend: "tensorflow" },
    datasets,
    groupAttrs: {
      ...groupAttrs,
      model_weights: {
        layer_names: ["input_1", "conv2d_1", "sequential_1", "add_1", "flatten_1", "dense_1"],
      },
    },
  });
  const model = await loadKerasModel(`${dir}/functional.h5`);
  const pixels = randomArray([6, 6, 1], 37, 1);
  const x: ref.Act = { data: Float64Array.from(pixels.data), shape: [6, 6, 1] };
  const c1 = ref.map(ref.conv2d(x, w.k1.data, [3, 3, 1, 2], w.b1.data, "same"), ref.relu);
  const c2 = ref.map(ref.conv2d(c1, w.k2.data, [3, 3, 2, 2], w.b2.data, "same"), ref.relu);
  const sum = ref.add(c1, c2);
  const out = ref.softmax(ref.dense(sum, w.k3.data, w.b3.data));
  const expected: Record<string, ref.Act> = {
    conv2d_1: c1,
    sequential_1: c2,
    add_1: sum,
    dense_1: out,
  };
  const input = tf.tensor(pixels.data, [6, 6, 1]);
  await ref.assertActivationsMatch(model, input, expected);
  const summary = modelSummary(model);
  assert(summary.text.includes("Connected to"), summary.text);
  assert(
    /add_1 \(Add\)\s+\(None, 6, 6, 2\)\s+0\s+conv2d_1, sequential_1/.test(summary.text),
    summary.text,
  );
  const expanded = modelSummary(model, { expandNested: true });
  assertEquals(expanded.rows.map((r) => r.name).includes("sequential_1/conv2d_2"), true);
  input.dispose();
  model.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("Keras ≤ 2.2 .h5 whose model_config is a bare list of layers loads", async () => {
  const dir = await Deno.makeTempDir();
  const config = {
    class_name: "Sequential",
    config: [
      {
        class_name: "Dense",
        config: { name: "dense_1", units: 3, activation: "relu", batch_input_shape: [null, 4] },
      },
      { class_name: "Dropout", config: { name: "dropout_1", rate: 0.5 } },
      { class_name: "Dense", config: { name: "dense_2", units: 1, activation: "sigmoid" } },
    ],
  };
  const w = {
    k1: randomArray([4, 3], 41),
    b1: randomArray([3], 42),
    k2: randomArray([3, 1], 43),
    b2: randomArray([1], 44),
  };
  const { datasets, groupAttrs } = keras2Weights({
    dense_1: { kernel: w.k1, bias: w.b1 },
    dense_2: { kernel: w.k2, bias: w.b2 },
  });
  await writeH5(`${dir}/old.h5`, {
    attrs: { model_config: JSON.stringify(config), keras_version: "2.1.6" },
    datasets,
    groupAttrs: {
      ...groupAttrs,
      "model_weights/dropout_1": { weight_names: [] },
      model_weights: { layer_names: ["dense_1", "dropout_1", "dense_2"] },
    },
  });
  const model = await loadKerasModel(`${dir}/old.h5`);
  const x: ref.Act = { data: Float64Array.from([0.5, -1, 2, 0.25]), shape: [4] };
  const expected = ref.map(
    ref.dense(ref.map(ref.dense(x, w.k1.data, w.b1.data), ref.relu), w.k2.data, w.b2.data),
    ref.sigmoid,
  );
  const got = tf.tidy(() =>
    (model.predict(tf.tensor([[0.5, -1, 2, 0.25]])) as tf.Tensor).dataSync()
  );
  assert(ref.maxAbsDiff(got, expected.data) <= 1e-6);
  model.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("weights-only files load into a TypeScript architecture by layer name; mismatches are listed", async () => {
  const dir = await Deno.makeTempDir();
  const model = bookConvnet({ seed: 1 });
  const layers: Record<string, Record<string, Array32>> = {};
  for (const layer of model.layers) {
    const weights = layer.getWeights();
    layers[layer.name] = Object.fromEntries(
      weights.map((w, i) => [
        i === 0 ? "kernel" : "bias",
        { data: Float32Array.from(w.dataSync(), (v) => v * 2), shape: w.shape },
      ]),
    );
  }
  const { datasets, groupAttrs } = keras2Weights(layers, "");
  const names = model.layers.map((l) => l.name);
  await writeH5(`${dir}/good.h5`, { attrs: { layer_names: names }, datasets, groupAttrs });
  const fresh = bookConvnet({ seed: 2 });
  await loadKerasWeights(fresh, `${dir}/good.h5`);
  const a = model.getLayer("conv2d_3").getWeights()[0].dataSync();
  const b = fresh.getLayer("conv2d_3").getWeights()[0].dataSync();
  assertEquals(b[17], a[17] * 2);
  // A misshaped kernel and a missing layer are both named.
  const bad: Record<string, Array32> = {
    ...datasets,
    "conv2d_2/conv2d_2/kernel:0": randomArray([3, 3, 1, 1], 1),
  };
  delete bad["dense_2/dense_2/kernel:0"];
  await writeH5(`${dir}/bad.h5`, {
    attrs: { layer_names: names.filter((n) => n !== "dense_2") },
    datasets: bad,
    groupAttrs: { ...groupAttrs, dense_2: { weight_names: [] } },
  });
  const error = await assertRejects(() => loadKerasWeights(bookConvnet(), `${dir}/bad.h5`));
  assert(
    error.message.includes(
      '"conv2d_2" weight 0 (conv2d_2/kernel): file [3,3,1,1], layer [3,3,32,64]',
    ),
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
  const write = (name: string, attrs: Record<string, string | string[]>) =>
    writeH5(`${dir}/${name}`, { attrs });
  await write("lambda.h5", { model_config: config("Lambda"), keras_version: "2.3.1" });
  await assertRejects(
    () => loadKerasModel(`${dir}/lambda.h5`),
    'layer "odd_1" (Lambda) is a Lambda layer, which carries Python code',
  );
  await write("lstm.h5", { model_config: config("LSTM"), keras_version: "2.3.1" });
  await assertRejects(
    () => loadKerasModel(`${dir}/lstm.h5`),
    'layer "odd_1" (LSTM) has class LSTM, which convscope cannot load',
  );
  await write("weights_only.h5", { layer_names: ["a"] });
  await assertRejects(
    () => loadKerasModel(`${dir}/weights_only.h5`),
    'no "model_config" attribute',
  );
  await write("no_json.h5", { model_config: "{oops", keras_version: "2.3.1" });
  await assertRejects(() => loadKerasModel(`${dir}/no_json.h5`), "model_config is not valid JSON");
  const good = await Deno.readFile(`${dir}/lambda.h5`);
  await assertRejects(() => loadKerasModel(good.slice(0, 600)), "corrupt or truncated HDF5");
  await assertRejects(
    () => loadKerasModel(new TextEncoder().encode("not hdf5")),
    "not a model file convscope knows",
  );
  await assertRejects(() => loadKerasModel(`${dir}/absent.h5`), "absent.h5: no such file");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the tfjs layers format: saveModel, then load from a folder, a model.json path and an http URL", async () => {
  const dir = await Deno.makeTempDir();
  const model = bookConvnet({ seed: 3 });
  await saveModel(model, `${dir}/m`);
  const input = tf.randomUniform([1, 150, 150, 3], 0, 1, "float32", 4);
  const expected = (model.predict(input) as tf.Tensor).dataSync();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = `${dir}/m${new URL(req.url).pathname}`;
    return new Response(await Deno.readFile(path).catch(() => null), {
      status: await Deno.stat(path).then(() => 200, () => 404),
    });
  });
  try {
    const url = new URL(`http://127.0.0.1:${server.addr.port}/model.json`);
    for (const source of [`${dir}/m`, `${dir}/m/model.json`, url]) {
      const loaded = await loadKerasModel(source);
      const got = tf.tidy(() => (loaded.predict(input) as tf.Tensor).dataSync());
      assert(ref.maxAbsDiff(got, expected) === 0, `${source}`);
      loaded.dispose();
    }
    await assertRejects(
      () => loadKerasModel(new URL(`http://127.0.0.1:${server.addr.port}/missing.json`)),
    );
  } finally {
    await server.shutdown();
    input.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("modelSummary: Keras' table, totals and rich HTML output", () => {
  const summary = modelSummary(bookConvnet());
  assertEquals(summary.totalParams, 3_453_121);
  assertEquals(summary.trainableParams, 3_453_121);
  assertEquals(summary.rows.length, 12);
  assertEquals(summary.rows[0], {
    name: "conv2d_1",
    type: "Conv2D",
    outputShape: "(None, 148, 148, 32)",
    params: 896,
    connectedTo: [],
    depth: 0,
  });
  assert(summary.text.includes("Total params: 3,453,121 (13.17 MB)"), summary.text);
  assert(!summary.text.includes("Connected to"));
  const bundle = summary[Symbol.for("Jupyter.display") as never] as () => Record<string, string>;
  const html = bundle()["text/html"];
  assert(html.includes("<table") && html.includes("<td") && html.includes("dense_2 (Dense)"));
  assertEquals(bundle()["text/plain"], summary.text);
});

Deno.test("loading a model before initBackend() says to call it first", async () => {
  const mod = new URL("../mod.ts", import.meta.url).href;
  const script = `import { loadBookModel, loadKerasModel } from "${mod}";
for (const load of [() => loadKerasModel("models/cats_and_dogs_small"), loadBookModel]) {
  try { await load(); console.log("loaded"); } catch (e) { console.log(e.message); }
}`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    cwd: new URL("..", import.meta.url),
    env: { NO_COLOR: "1" },
  }).output();
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  assertEquals(lines.length, 2, new TextDecoder().decode(out.stderr));
  for (const line of lines) assert(line.includes("call `await initBackend()` first"), line);
});
