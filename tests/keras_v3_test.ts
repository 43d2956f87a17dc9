import { zipSync } from "fflate";
import { initBackend, loadKerasModel, modelSummary, tf } from "../mod.ts";
import { kerasSnakeCase } from "../src/models/keras_v3.ts";
import { assert, assertEquals, assertRejects } from "./assert.ts";
import {
  type Array32,
  type H5Spec,
  k3Conv2D,
  k3Layer,
  k3Sequential,
  kerasArchive,
  randomArray,
} from "./fixtures/keras_files.ts";
import * as ref from "./fixtures/reference_forward.ts";

await initBackend();

const S = (shape: (number | null)[]) => JSON.stringify(shape);

/**
 * The book's 2nd-edition model in miniature, as Keras 3 saves it: a Functional
 * model with a nested augmentation Sequential, Rescaling, and a nested
 * Sequential block with its own conv2d (stored at layers/sequential_1/layers/
 * conv2d) merged back by Add. Config names (conv2d_8, dense_3) differ from the
 * storage names (conv2d, dense) as in real files.
 */
function functionalConfig() {
  const input = (name: string, shape: (number | null)[]) =>
    k3Layer("InputLayer", name, { batch_shape: shape, sparse: false, ragged: false });
  const augmentation = k3Sequential("sequential", [
    input("input_layer_1", [null, 12, 12, 3]),
    k3Layer("RandomFlip", "random_flip", { mode: "horizontal", seed: null }),
    k3Layer("RandomRotation", "random_rotation", { factor: 0.1, fill_mode: "reflect" }),
    k3Layer("RandomZoom", "random_zoom", { height_factor: 0.2 }),
  ], ["input_layer", [null, 12, 12, 3]]);
  const block = k3Sequential("sequential_1", [
    input("input_layer_2", [null, 5, 5, 4]),
    k3Conv2D("conv2d_9", { filters: 4, padding: "same", activation: "linear", use_bias: false }),
    k3Layer("BatchNormalization", "batch_normalization_2", {
      axis: -1,
      momentum: 0.99,
      epsilon: 0.001,
      center: true,
      scale: true,
      synchronized: false,
    }),
    k3Layer("ReLU", "re_lu_1", { max_value: null, negative_slope: 0.0, threshold: 0.0 }),
  ], ["max_pooling2d_4", [null, 5, 5, 4]]);
  return {
    module: "keras.src.models.functional",
    class_name: "Functional",
    config: {
      name: "functional_1",
      trainable: true,
      layers: [
        { ...k3Layer("InputLayer", "input_layer", { batch_shape: [null, 12, 12, 3] }, []) },
        augmentation,
        k3Layer("Rescaling", "rescaling", { scale: 1 / 255, offset: 0 }, [[
          "sequential",
          S([null, 12, 12, 3]),
        ]]),
        k3Conv2D("conv2d_8", { filters: 4, padding: "valid", activation: "relu", use_bias: true }, [
          [
            "rescaling",
            S([null, 12, 12, 3]),
          ],
        ]),
        k3Layer("MaxPooling2D", "max_pooling2d_4", {
          pool_size: [2, 2],
          padding: "valid",
          strides: [2, 2],
          data_format: "channels_last",
        }, [["conv2d_8", S([null, 10, 10, 4])]]),
        block,
        k3Layer("Add", "add_1", {}, [["max_pooling2d_4", S([null, 5, 5, 4])], [
          "sequential_1",
          S([null, 5, 5, 4]),
        ]]),
        k3Layer("Flatten", "flatten_2", { data_format: "channels_last" }, [[
          "add_1",
          S([null, 5, 5, 4]),
        ]]),
        k3Layer("Dropout", "dropout_3", { rate: 0.5, seed: null, noise_shape: null }, [[
          "flatten_2",
          S([null, 100]),
        ]]),
        k3Layer("Dense", "dense_3", { units: 1, activation: "sigmoid", use_bias: true }, [[
          "dropout_3",
          S([null, 100]),
        ]]),
      ],
      input_layers: [["input_layer", 0, 0]],
      output_layers: [["dense_3", 0, 0]],
    },
    registered_name: "Functional",
    build_config: { input_shape: null },
    compile_config: { optimizer: "rmsprop", loss: "binary_crossentropy" },
  };
}

function functionalWeights(): Record<string, Array32> {
  const variance = randomArray([4], 9, 0.4);
  variance.data = variance.data.map((v) => v + 0.6);
  return {
    "layers/conv2d/vars/0": randomArray([3, 3, 3, 4], 1),
    "layers/conv2d/vars/1": randomArray([4], 2, 0.1),
    "layers/sequential_1/layers/conv2d/vars/0": randomArray([3, 3, 4, 4], 3),
    "layers/sequential_1/layers/batch_normalization/vars/0": randomArray([4], 4, 1),
    "layers/sequential_1/layers/batch_normalization/vars/1": randomArray([4], 5, 0.2),
    "layers/sequential_1/layers/batch_normalization/vars/2": randomArray([4], 6, 0.2),
    "layers/sequential_1/layers/batch_normalization/vars/3": variance,
    "layers/dense/vars/0": randomArray([100, 1], 7),
    "layers/dense/vars/1": randomArray([1], 8, 0.1),
    // State that is not a weight: a random layer's seed and the optimizer's step.
    "layers/sequential/layers/random_flip/seed_generator/vars/0": randomArray([2], 10),
    "optimizer/vars/0": randomArray([1], 11),
  };
}

const EMPTY_VARS = [
  "layers/input_layer/vars",
  "layers/sequential/vars",
  "layers/rescaling/vars",
  "layers/max_pooling2d/vars",
  "layers/sequential_1/vars",
  "layers/sequential_1/layers/re_lu/vars",
  "layers/add/vars",
  "layers/flatten/vars",
  "layers/dropout/vars",
];

const spec = (datasets: Record<string, Array32>): H5Spec => ({ datasets, groups: EMPTY_VARS });

Deno.test("kerasSnakeCase names classes as Keras's saver does", () => {
  assertEquals(
    ["Conv2D", "MaxPooling2D", "BatchNormalization", "ReLU", "LeakyReLU", "InputLayer"].map(
      kerasSnakeCase,
    ),
    ["conv2d", "max_pooling2d", "batch_normalization", "re_lu", "leaky_re_lu", "input_layer"],
  );
});

Deno.test(".keras Functional with nested Sequentials: every layer's activation matches plain loops over the raw weights", async () => {
  const weights = functionalWeights();
  const model = await loadKerasModel(await kerasArchive(functionalConfig(), spec(weights)));
  assertEquals(model.layers.map((l) => l.name), [
    "input_layer",
    "sequential",
    "rescaling",
    "conv2d_8",
    "max_pooling2d_4",
    "sequential_1",
    "add_1",
    "flatten_2",
    "dropout_3",
    "dense_3",
  ]);
  // Augmentation layers are identities at inference.
  const aug = model.getLayer("sequential") as tf.LayersModel;
  assertEquals(aug.layers.map((l) => l.getClassName()), ["Activation", "Activation", "Activation"]);

  const pixels = randomArray([12, 12, 3], 12, 127.5);
  pixels.data = pixels.data.map((v) => v + 127.5);
  const x: ref.Act = { data: Float64Array.from(pixels.data), shape: [12, 12, 3] };
  const w = (k: string) => weights[k].data;
  const rescaled = ref.map(x, (v) => v / 255);
  const conv = ref.map(
    ref.conv2d(
      rescaled,
      w("layers/conv2d/vars/0"),
      [3, 3, 3, 4],
      w("layers/conv2d/vars/1"),
      "valid",
    ),
    ref.relu,
  );
  const pool = ref.maxPool2(conv);
  const bnVars = [0, 1, 2, 3].map((i) =>
    w(`layers/sequential_1/layers/batch_normalization/vars/${i}`)
  );
  const branch = ref.map(
    ref.batchNorm(
      ref.conv2d(pool, w("layers/sequential_1/layers/conv2d/vars/0"), [3, 3, 4, 4], null, "same"),
      bnVars,
      0.001,
    ),
    ref.relu,
  );
  const sum = ref.add(pool, branch);
  const out = ref.map(
    ref.dense(sum, w("layers/dense/vars/0"), w("layers/dense/vars/1")),
    ref.sigmoid,
  );
  const expected: Record<string, ref.Act> = {
    rescaling: rescaled,
    conv2d_8: conv,
    max_pooling2d_4: pool,
    sequential_1: branch,
    add_1: sum,
    dense_3: out,
  };
  const input = tf.tensor(pixels.data, [12, 12, 3]);
  await ref.assertActivationsMatch(model, input, expected);
  input.dispose();
  model.dispose();
});

Deno.test(".keras Sequential (Keras 3 writes its InputLayer first) loads and predicts like the loops", async () => {
  const config = k3Sequential("sequential", [
    k3Layer("InputLayer", "input_layer", { batch_shape: [null, 8, 8, 1] }),
    k3Conv2D("conv2d", { filters: 2, padding: "valid", activation: "relu", use_bias: true }),
    k3Layer("MaxPooling2D", "max_pooling2d", { pool_size: [2, 2], strides: [2, 2] }),
    k3Layer("Flatten", "flatten", {}),
    k3Layer("Dense", "dense", { units: 3, activation: "softmax", use_bias: true }),
  ]);
  const weights = {
    "layers/conv2d/vars/0": randomArray([3, 3, 1, 2], 21),
    "layers/conv2d/vars/1": randomArray([2], 22, 0.1),
    "layers/dense/vars/0": randomArray([18, 3], 23),
    "layers/dense/vars/1": randomArray([3], 24, 0.1),
  };
  const model = await loadKerasModel(await kerasArchive(config, { datasets: weights }));
  const pixels = randomArray([8, 8, 1], 25, 1);
  const x: ref.Act = { data: Float64Array.from(pixels.data), shape: [8, 8, 1] };
  const h = ref.maxPool2(
    ref.map(
      ref.conv2d(
        x,
        weights["layers/conv2d/vars/0"].data,
        [3, 3, 1, 2],
        weights["layers/conv2d/vars/1"].data,
        "valid",
      ),
      ref.relu,
    ),
  );
  const expected = ref.softmax(
    ref.dense(h, weights["layers/dense/vars/0"].data, weights["layers/dense/vars/1"].data),
  );
  const got = tf.tidy(() =>
    (model.predict(tf.tensor(pixels.data, [1, 8, 8, 1])) as tf.Tensor).dataSync()
  );
  assert(ref.maxAbsDiff(got, expected.data) <= 1e-5, `${got} vs ${expected.data}`);
  assertEquals(modelSummary(model).totalParams, 20 + 57);
  model.dispose();
});

Deno.test(".keras errors name the problem: no config.json, missing, misshaped and unclaimed variables, truncation, Lambda", async () => {
  const config = functionalConfig();
  const load = async (cfg: unknown, weights: Record<string, Array32>) =>
    await loadKerasModel(await kerasArchive(cfg, spec(weights)));

  await assertRejects(
    () => loadKerasModel(zipSync({ "model.weights.h5": new Uint8Array(8) })),
    "a zip without config.json",
  );
  const missing = functionalWeights();
  delete missing["layers/dense/vars/1"];
  await assertRejects(
    () => load(config, missing),
    '"dense_3" (stored as layers/dense): the file has 1 weights, the layer 2',
  );
  const misshaped = {
    ...functionalWeights(),
    "layers/conv2d/vars/0": randomArray([3, 3, 3, 5], 1),
  };
  await assertRejects(
    () => load(config, misshaped),
    '"conv2d_8" (stored as layers/conv2d) weight 0 (conv2d_8/kernel): file [3,3,3,5], layer [3,3,3,4]',
  );
  const extra = { ...functionalWeights(), "layers/dense_1/vars/0": randomArray([4], 1) };
  await assertRejects(
    () => load(config, extra),
    "the file has variables at layers/dense_1 that no layer of the model takes",
  );
  const noBlock = { ...functionalWeights() };
  delete noBlock["layers/sequential_1/layers/conv2d/vars/0"];
  await assertRejects(
    () => load(config, noBlock),
    '"conv2d_9" has no variables in the file (expected at layers/sequential_1/layers/conv2d/vars)',
  );
  const good = await kerasArchive(config, spec(functionalWeights()));
  await assertRejects(
    () => loadKerasModel(good.slice(0, Math.floor(good.length / 2))),
    "corrupt or truncated zip archive",
  );
  const lambda = structuredClone(config);
  lambda.config.layers[2] = k3Layer("Lambda", "rescale_by_code", { function: "x / 255" }, [[
    "sequential",
    S([null, 12, 12, 3]),
  ]]);
  await assertRejects(() => load(lambda, functionalWeights()), "is a Lambda layer");
  const attention = structuredClone(config);
  attention.config.layers[2] = k3Layer("MultiHeadAttention", "mha", {}, [[
    "sequential",
    S([null, 12, 12, 3]),
  ]]);
  await assertRejects(
    () => load(attention, functionalWeights()),
    'layer "mha" (MultiHeadAttention) has class MultiHeadAttention, which convscope cannot load',
  );
  await assertRejects(
    () =>
      loadKerasModel(zipSync({
        "config.json": new TextEncoder().encode("{not json"),
        "model.weights.h5": new Uint8Array(8),
      })),
    "config.json is not valid JSON",
  );
  await assertRejects(
    () => loadKerasModel(new TextEncoder().encode("GIF89a....")),
    "not a model file convscope knows",
  );
});

Deno.test("loading and failing to load .keras files leaks no tensors", async () => {
  const archive = await kerasArchive(functionalConfig(), spec(functionalWeights()));
  const missing = functionalWeights();
  delete missing["layers/dense/vars/1"];
  const bad = await kerasArchive(functionalConfig(), spec(missing));
  (await loadKerasModel(archive)).dispose();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    (await loadKerasModel(archive)).dispose();
    await loadKerasModel(bad).catch(() => {});
  }
  assertEquals(tf.memory().numTensors, before);
});

Deno.test(".keras: a weight declaring an absurd shape is refused before it is read", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const h5wasm = (await import("h5wasm/node")).default;
    await h5wasm.ready;
    const f = new h5wasm.File(`${dir}/w.h5`, "w");
    for (const g of ["layers", "layers/dense", "layers/dense/vars"]) f.create_group(g);
    // Chunked and compressed: 4e9 declared zeros take a few kilobytes on disk.
    f.create_dataset({
      name: "layers/dense/vars/0",
      data: new Float32Array(1),
      shape: [1],
      maxshape: [null],
      chunks: [1 << 20],
      compression: "gzip",
    } as never);
    (f.get("layers/dense/vars/0") as unknown as { resize(s: number[]): void }).resize([4e9]);
    f.create_dataset({ name: "layers/dense/vars/1", data: new Float32Array(3), shape: [3] });
    f.close();
    const config = k3Sequential("sequential", [
      k3Layer("InputLayer", "input_layer", { batch_shape: [null, 4] }),
      k3Layer("Dense", "dense", { units: 3, use_bias: true }),
    ]);
    const archive = zipSync({
      "config.json": new TextEncoder().encode(JSON.stringify(config)),
      "model.weights.h5": await Deno.readFile(`${dir}/w.h5`),
    });
    await assertRejects(() => loadKerasModel(archive), "more than a layer here can hold");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
