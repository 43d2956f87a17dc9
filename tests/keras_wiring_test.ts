/**
 * The wiring of Functional configs as Keras writes it: node indices in both
 * Keras 2 and Keras 3 styles, nested and shared layers, and broken references
 * that must end in a named error at once (tfjs alone spins forever on them).
 */
import { initBackend, KerasFileError, loadKerasModel, tf } from "../mod.ts";
import { assert, assertRejects } from "./assert.ts";
import {
  type Array32,
  k2Layer,
  k3Layer,
  kerasArchive,
  kerasMetadata,
  randomArray,
} from "./fixtures/keras_files.ts";
import * as ref from "./fixtures/reference_forward.ts";

await initBackend();

const conv = (filters: number, activation = "relu") => ({
  filters,
  kernel_size: [3, 3],
  strides: [1, 1],
  padding: "valid",
  data_format: "channels_last",
  dilation_rate: [1, 1],
  groups: 1,
  activation,
  use_bias: true,
});

/**
 * The Deep Learning with Python 2nd-edition pattern as Keras 2.15 saves it to
 * `.keras`: Input → nested augmentation Sequential (with the InputLayer Keras
 * gives it) → Rescaling → Conv2D → MaxPooling2D → Flatten → Dropout → Dense.
 * Keras writes the Rescaling's input as `["sequential", 1, 0, {}]`.
 */
function keras215Config() {
  const augmentation = {
    module: "keras",
    class_name: "Sequential",
    config: {
      name: "sequential",
      layers: [
        k2Layer("InputLayer", "random_flip_input", {
          batch_input_shape: [null, 12, 12, 3],
          sparse: false,
          ragged: false,
        }),
        k2Layer("RandomFlip", "random_flip", { mode: "horizontal", seed: null }),
        k2Layer("RandomRotation", "random_rotation", { factor: 0.1, fill_mode: "reflect" }),
        k2Layer("RandomZoom", "random_zoom", { height_factor: 0.2 }),
      ],
    },
    registered_name: null,
    build_config: { input_shape: [null, 12, 12, 3] },
    name: "sequential",
    inbound_nodes: [[["input_1", 0, 0, {}]]],
  };
  return {
    module: "keras.src.engine.functional",
    class_name: "Functional",
    config: {
      name: "model",
      trainable: true,
      layers: [
        k2Layer("InputLayer", "input_1", { batch_input_shape: [null, 12, 12, 3] }, []),
        augmentation,
        k2Layer("Rescaling", "rescaling", { scale: 1 / 255, offset: 0 }, [[["sequential", 1]]]),
        k2Layer("Conv2D", "conv2d", conv(4), [[["rescaling", 0]]]),
        k2Layer("MaxPooling2D", "max_pooling2d", {
          pool_size: [2, 2],
          strides: [2, 2],
          padding: "valid",
        }, [[["conv2d", 0]]]),
        k2Layer("Flatten", "flatten", {}, [[["max_pooling2d", 0]]]),
        k2Layer("Dropout", "dropout", { rate: 0.5 }, [[["flatten", 0]]]),
        k2Layer("Dense", "dense", { units: 1, activation: "sigmoid" }, [[["dropout", 0]]]),
      ],
      input_layers: [["input_1", 0, 0]],
      output_layers: [["dense", 0, 0]],
    },
    registered_name: null,
  };
}

const weights215: Record<string, Array32> = {
  "layers/conv2d/vars/0": randomArray([3, 3, 3, 4], 51),
  "layers/conv2d/vars/1": randomArray([4], 52, 0.1),
  "layers/dense/vars/0": randomArray([100, 1], 53),
  "layers/dense/vars/1": randomArray([1], 54, 0.1),
};

Deno.test("Keras 2.15 .keras, 2nd-edition pattern (nested augmentation Sequential at node 1): loads and matches plain loops", async () => {
  const started = performance.now();
  const model = await loadKerasModel(
    await kerasArchive(keras215Config(), { datasets: weights215 }, kerasMetadata("2.15.0")),
  );
  assert(performance.now() - started < 10_000, "loading took more than 10 s");
  const pixels = randomArray([12, 12, 3], 55, 127.5);
  pixels.data = pixels.data.map((v) => v + 127.5);
  const x: ref.Act = { data: Float64Array.from(pixels.data, (v) => v / 255), shape: [12, 12, 3] };
  const w = (k: string) => weights215[k].data;
  const h = ref.maxPool2(
    ref.map(
      ref.conv2d(x, w("layers/conv2d/vars/0"), [3, 3, 3, 4], w("layers/conv2d/vars/1"), "valid"),
      ref.relu,
    ),
  );
  const expected = ref.map(
    ref.dense(h, w("layers/dense/vars/0"), w("layers/dense/vars/1")),
    ref.sigmoid,
  );
  const got = tf.tidy(() =>
    (model.predict(tf.tensor(pixels.data, [1, 12, 12, 3])) as tf.Tensor).dataSync()
  );
  assert(ref.maxAbsDiff(got, expected.data) <= 1e-5, `${got} vs ${expected.data}`);
  model.dispose();
});

/** A Keras 2 Functional .h5-style config with a shared conv called twice, listed before its second input. */
function sharedLayerConfig(secondCall: [string, number]) {
  return {
    class_name: "Functional",
    config: {
      name: "shared",
      layers: [
        k2Layer("InputLayer", "input_1", { batch_input_shape: [null, 8, 8, 2] }, []),
        // Called on the input, then on conv_a's output: its call 1 waits a pass in tfjs.
        k2Layer("Conv2D", "twice", { ...conv(2), padding: "same" }, [[["input_1", 0]], [
          secondCall,
        ]]),
        k2Layer("Conv2D", "conv_a", { ...conv(2), padding: "same" }, [[["twice", 0]]]),
        k2Layer("Add", "add", {}, [[["twice", 0], ["twice", 1]]]),
      ],
      input_layers: [["input_1", 0, 0]],
      output_layers: [["add", 0, 0]],
    },
  };
}

const sharedWeights: Record<string, Array32> = {
  "layers/conv2d/vars/0": randomArray([3, 3, 2, 2], 61),
  "layers/conv2d/vars/1": randomArray([2], 62, 0.1),
  "layers/conv2d_1/vars/0": randomArray([3, 3, 2, 2], 63),
  "layers/conv2d_1/vars/1": randomArray([2], 64, 0.1),
};

Deno.test("a shared layer called twice: each reference reaches the call Keras means", async () => {
  const model = await loadKerasModel(
    await kerasArchive(
      sharedLayerConfig(["conv_a", 0]),
      { datasets: sharedWeights },
      kerasMetadata("2.15.0"),
    ),
  );
  const pixels = randomArray([8, 8, 2], 65, 1);
  const x: ref.Act = { data: Float64Array.from(pixels.data), shape: [8, 8, 2] };
  const w = (k: string) => sharedWeights[k].data;
  const twice = (a: ref.Act) =>
    ref.map(
      ref.conv2d(a, w("layers/conv2d/vars/0"), [3, 3, 2, 2], w("layers/conv2d/vars/1"), "same"),
      ref.relu,
    );
  const first = twice(x);
  const a = ref.map(
    ref.conv2d(
      first,
      w("layers/conv2d_1/vars/0"),
      [3, 3, 2, 2],
      w("layers/conv2d_1/vars/1"),
      "same",
    ),
    ref.relu,
  );
  const expected = ref.add(first, twice(a));
  const got = tf.tidy(() =>
    (model.predict(tf.tensor(pixels.data, [1, 8, 8, 2])) as tf.Tensor).dataSync()
  );
  assert(ref.maxAbsDiff(got, expected.data) <= 1e-5, "the shared layer's calls were mixed up");
  model.dispose();
});

/** Keras 3: a nested Functional's first call is history node 0, but output_layers count its built-in node. */
Deno.test("Keras 3 nested Functional: histories count calls from 0, output_layers from 1", async () => {
  const tensor = (layer: string, node: number, shape: (number | null)[]) => ({
    class_name: "__keras_tensor__",
    config: { shape, dtype: "float32", keras_history: [layer, node, 0] },
  });
  const inner = {
    module: "keras.src.models.functional",
    class_name: "Functional",
    config: {
      name: "inner",
      trainable: true,
      layers: [
        {
          ...k3Layer("InputLayer", "inner_in", { batch_shape: [null, 6, 6, 1] }),
          name: "inner_in",
          inbound_nodes: [],
        },
        k3Layer("Conv2D", "inner_conv", { ...conv(2), padding: "same" }, [[
          "inner_in",
          "[null,6,6,1]",
        ]]),
      ],
      input_layers: [["inner_in", 0, 0]],
      output_layers: [["inner_conv", 0, 0]],
    },
    registered_name: "Functional",
    name: "inner",
    inbound_nodes: [{ args: [tensor("outer_in", 0, [null, 6, 6, 1])], kwargs: {} }],
  };
  const config = {
    module: "keras.src.models.functional",
    class_name: "Functional",
    config: {
      name: "outer",
      trainable: true,
      layers: [
        {
          ...k3Layer("InputLayer", "outer_in", { batch_shape: [null, 6, 6, 1] }),
          name: "outer_in",
          inbound_nodes: [],
        },
        inner,
      ],
      input_layers: [["outer_in", 0, 0]],
      // Keras 3's node_reindexing_map: a Functional's first call is node 1 here.
      output_layers: [["inner", 1, 0]],
    },
    registered_name: "Functional",
  };
  const weights = {
    "layers/functional/layers/conv2d/vars/0": randomArray([3, 3, 1, 2], 71),
    "layers/functional/layers/conv2d/vars/1": randomArray([2], 72, 0.1),
  };
  const model = await loadKerasModel(await kerasArchive(config, { datasets: weights }));
  const pixels = randomArray([6, 6, 1], 73, 1);
  const expected = ref.map(
    ref.conv2d(
      { data: Float64Array.from(pixels.data), shape: [6, 6, 1] },
      weights["layers/functional/layers/conv2d/vars/0"].data,
      [3, 3, 1, 2],
      weights["layers/functional/layers/conv2d/vars/1"].data,
      "same",
    ),
    ref.relu,
  );
  const got = tf.tidy(() =>
    (model.predict(tf.tensor(pixels.data, [1, 6, 6, 1])) as tf.Tensor).dataSync()
  );
  assert(ref.maxAbsDiff(got, expected.data) <= 1e-5, "the nested Functional's output is wrong");
  model.dispose();
});

Deno.test("broken wiring ends in a named error well under a second, leaving nothing behind", async () => {
  const tensors = tf.memory().numTensors;
  const broken: [string, (c: ReturnType<typeof keras215Config>) => void, RegExp][] = [
    ["dangling layer", (c) => {
      c.config.layers[2].inbound_nodes = [[["nowhere", 0, 0, {}]]];
    }, /"rescaling" call 0 refers to layer "nowhere", which model "model" does not have/],
    [
      "node past the calls",
      (c) => {
        c.config.layers[2].inbound_nodes = [[["sequential", 5, 0, {}]]];
      },
      /refers to node 5 of "sequential" \(Sequential\), which is called 1 time\(s\).*nodes are 1…1/,
    ],
    ["the pre-fix index (node 2)", (c) => {
      c.config.layers[2].inbound_nodes = [[["sequential", 2, 0, {}]]];
    }, /node 2 of "sequential"/],
    ["a reference to a later layer's missing call", (c) => {
      c.config.layers[3].inbound_nodes = [[["dense", 1, 0, {}]]];
    }, /node 1 of "dense"/],
    ["a cycle", (c) => {
      c.config.layers[3].inbound_nodes = [[["flatten", 0, 0, {}]]];
    }, /has a cycle/],
    ["an empty name", (c) => {
      (c.config.layers[5] as { name: string }).name = "";
    }, /a layer without a name/],
    ["inbound_nodes not a list", (c) => {
      (c.config.layers[4] as { inbound_nodes: unknown }).inbound_nodes = 7;
    }, /inbound_nodes that are not a list/],
    ["a missing output", (c) => {
      c.config.output_layers = [["dense", 0, 3]];
    }, /output 3 of "dense", which has 1/],
    ["a deleted layer", (c) => {
      c.config.layers.splice(4, 1);
    }, /refers to layer "max_pooling2d", which model "model" does not have/],
  ];
  for (const [what, mutate, expected] of broken) {
    const config = keras215Config();
    mutate(config);
    const bytes = await kerasArchive(config, { datasets: weights215 }, kerasMetadata("2.15.0"));
    const started = performance.now();
    const error = await assertRejects(() => loadKerasModel(bytes), expected);
    const ms = performance.now() - started;
    assert(error instanceof KerasFileError, `${what}: ${error.name}`);
    assert(ms < 1000, `${what}: took ${ms.toFixed(0)} ms`);
  }
  assert(tf.memory().numTensors === tensors, "a failed load left tensors behind");
});

/** A nested Sequential block (with its own InputLayer) applied twice: x → block → block. */
function twiceConfig(dialect: "keras2" | "keras3") {
  const block = {
    module: "keras",
    class_name: "Sequential",
    config: {
      name: "block",
      layers: [
        k2Layer("InputLayer", "block_input", { batch_input_shape: [null, 6, 6, 2] }),
        k2Layer("Conv2D", "block_conv", { ...conv(2), padding: "same" }),
      ],
    },
    registered_name: null,
    name: "block",
    // Keras 2 counts the block's built-in node: its calls are nodes 1 and 2.
    // Keras 3 histories count calls from 0; only output_layers add the built-in node
    // for a Functional, and a Sequential has none.
    inbound_nodes: dialect === "keras2"
      ? [[["input_1", 0, 0, {}]], [["block", 1, 0, {}]]]
      : [0, 1].map((node) => ({
        args: [{
          class_name: "__keras_tensor__",
          config: {
            shape: [null, 6, 6, 2],
            dtype: "float32",
            keras_history: node === 0 ? ["input_1", 0, 0] : ["block", 0, 0],
          },
        }],
        kwargs: {},
      })),
  };
  return {
    class_name: "Functional",
    config: {
      name: "twice",
      layers: [k2Layer("InputLayer", "input_1", { batch_input_shape: [null, 6, 6, 2] }, []), block],
      input_layers: [["input_1", 0, 0]],
      output_layers: [["block", dialect === "keras2" ? 2 : 1, 0]],
    },
  };
}

Deno.test("a nested model called twice: the second call and the output reach the calls Keras means (Keras 2 and 3 numbering)", async () => {
  const weights = {
    "layers/sequential/layers/conv2d/vars/0": randomArray([3, 3, 2, 2], 81),
    "layers/sequential/layers/conv2d/vars/1": randomArray([2], 82, 0.1),
  };
  const pixels = randomArray([6, 6, 2], 83, 1);
  const block = (a: ref.Act) =>
    ref.map(
      ref.conv2d(
        a,
        weights["layers/sequential/layers/conv2d/vars/0"].data,
        [3, 3, 2, 2],
        weights["layers/sequential/layers/conv2d/vars/1"].data,
        "same",
      ),
      ref.relu,
    );
  const expected = block(block({ data: Float64Array.from(pixels.data), shape: [6, 6, 2] }));
  for (const [dialect, version] of [["keras2", "2.15.0"], ["keras3", "3.6.0"]] as const) {
    const model = await loadKerasModel(
      await kerasArchive(twiceConfig(dialect), { datasets: weights }, kerasMetadata(version)),
    );
    const got = tf.tidy(() =>
      (model.predict(tf.tensor(pixels.data, [1, 6, 6, 2])) as tf.Tensor).dataSync()
    );
    assert(ref.maxAbsDiff(got, expected.data) <= 1e-5, `${dialect}: not block(block(x))`);
    model.dispose();
  }
});
