/**
 * The convnets of the chapter and its seeds, built in TypeScript with the
 * exact layer names and shapes their Keras originals print.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { assertBackendReady } from "../backend/init.ts";
import { tfSeed } from "../backend/tf_seed.ts";

function init(seed: number, offset: number) {
  assertBackendReady();
  return tf.initializers.glorotUniform({ seed: tfSeed(seed + offset) });
}

/** A Dense layer with a seeded Glorot initialiser, as Keras builds them. */
function dense(
  name: string,
  units: number,
  activation: "relu" | "sigmoid" | "softmax",
  kernel: ReturnType<typeof tf.initializers.glorotUniform>,
) {
  return tf.layers.dense({ name, units, activation, kernelInitializer: kernel });
}

/**
 * The book's cats-vs-dogs convnet (Deep Learning with Python 5.2, seed 001):
 * 150×150×3 → conv 32/64/128/128 (3×3, relu) each followed by 2×2 max
 * pooling → flatten → dropout → dense 512 relu → dense 1 sigmoid. Layer
 * names are Keras 2's (`conv2d_1` … `max_pooling2d_4`, `dense_2`).
 *
 * @example
 * ```ts
 * import { bookConvnet, initBackend } from "convscope";
 * await initBackend();
 * const model = bookConvnet();
 * console.log(model.layers[0].name, model.outputs[0].shape); // conv2d_1 [null, 1]
 * ```
 */
export function bookConvnet(
  options: {
    /** Seed for the weight initializers, so untrained models are reproducible. Default 42. */
    seed?: number;
  } & {
    /** Dropout before the dense layers (the book's model 2 uses 0.5; 0 omits the layer). */
    dropout?: number;
  } = {},
): tf.Sequential {
  const seed = options.seed ?? 42;
  const dropout = options.dropout ?? 0.5;
  const model = tf.sequential({ name: "cats_and_dogs_small" });
  const filters = [32, 64, 128, 128];
  filters.forEach((f, i) => {
    model.add(tf.layers.conv2d({
      name: `conv2d_${i + 1}`,
      filters: f,
      kernelSize: 3,
      activation: "relu",
      kernelInitializer: init(seed, i),
      ...(i === 0 ? { inputShape: [150, 150, 3] } : {}),
    }));
    model.add(tf.layers.maxPooling2d({ name: `max_pooling2d_${i + 1}`, poolSize: 2 }));
  });
  model.add(tf.layers.flatten({ name: "flatten_1" }));
  if (dropout > 0) model.add(tf.layers.dropout({ name: "dropout_1", rate: dropout }));
  model.add(dense("dense_1", 512, "relu", init(seed, 10)));
  model.add(dense("dense_2", 1, "sigmoid", init(seed, 11)));
  return model;
}

/**
 * The MNIST convnet of seed 004 (the Keras `mnist_cnn.py` example):
 * 28×28×1 → conv 32 → conv 64 → 2×2 pool → dropout 0.25 → flatten →
 * dense 128 → dropout 0.5 → `preds` (10, softmax).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { initBackend, mnistConvnet } from "convscope";
 * await initBackend();
 * const model = mnistConvnet();
 * assertEquals(model.getLayer("preds").outputShape, [null, 10]);
 * ```
 */
export function mnistConvnet(options: {
  /** Seed for the weight initializers, so untrained models are reproducible. Default 42. */
  seed?: number;
} = {}): tf.Sequential {
  const seed = options.seed ?? 42;
  const model = tf.sequential({ name: "mnist_cnn" });
  model.add(tf.layers.conv2d({
    name: "conv2d_1",
    filters: 32,
    kernelSize: 3,
    activation: "relu",
    inputShape: [28, 28, 1],
    kernelInitializer: init(seed, 0),
  }));
  model.add(tf.layers.conv2d({
    name: "conv2d_2",
    filters: 64,
    kernelSize: 3,
    activation: "relu",
    kernelInitializer: init(seed, 1),
  }));
  model.add(tf.layers.maxPooling2d({ name: "max_pooling2d_1", poolSize: 2 }));
  model.add(tf.layers.dropout({ name: "dropout_1", rate: 0.25 }));
  model.add(tf.layers.flatten({ name: "flatten_1" }));
  model.add(dense("dense_1", 128, "relu", init(seed, 2)));
  model.add(tf.layers.dropout({ name: "dropout_2", rate: 0.5 }));
  model.add(dense("preds", 10, "softmax", init(seed, 3)));
  return model;
}

/**
 * The 3-class convnet of seed 002 (tf.keras names `conv2d` … `dense_2`):
 * 150×150×3 → conv 8/16/32 with 2×2 pools → flatten → dense 1024 → dense
 * 512 → dense 3 softmax.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { initBackend, threeClassConvnet } from "convscope";
 * await initBackend();
 * assertEquals(threeClassConvnet().layers.map((l) => l.name).slice(0, 2), ["conv2d", "max_pooling2d"]);
 * ```
 */
export function threeClassConvnet(options: {
  /** Seed for the weight initializers, so untrained models are reproducible. Default 42. */
  seed?: number;
} = {}): tf.Sequential {
  const seed = options.seed ?? 42;
  const model = tf.sequential({ name: "three_class_convnet" });
  [8, 16, 32].forEach((f, i) => {
    const suffix = i === 0 ? "" : `_${i}`;
    model.add(tf.layers.conv2d({
      name: `conv2d${suffix}`,
      filters: f,
      kernelSize: 3,
      activation: "relu",
      kernelInitializer: init(seed, i),
      ...(i === 0 ? { inputShape: [150, 150, 3] } : {}),
    }));
    model.add(tf.layers.maxPooling2d({ name: `max_pooling2d${suffix}`, poolSize: 2 }));
  });
  model.add(tf.layers.flatten({ name: "flatten" }));
  model.add(
    dense("dense", 1024, "relu", init(seed, 5)),
  );
  model.add(
    dense("dense_1", 512, "relu", init(seed, 6)),
  );
  model.add(
    dense("dense_2", 3, "softmax", init(seed, 7)),
  );
  return model;
}

/**
 * VGG16 (Keras applications layout and names: `block1_conv1` …
 * `block5_pool`, then `flatten`, `fc1`, `fc2`, `predictions`), randomly
 * initialised; load ImageNet weights into it with the Keras loader.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { initBackend, vgg16 } from "convscope";
 * await initBackend();
 * const base = vgg16({ includeTop: false, inputShape: [150, 150, 3] });
 * assertEquals(base.getLayer("block5_conv1").outputShape, [null, 9, 9, 512]);
 * ```
 */
export function vgg16(
  options: {
    /** Seed for the weight initializers, so untrained models are reproducible. Default 42. */
    seed?: number;
  } & {
    /** Keep the classifier (`fc1`, `fc2`, `predictions`); needs 224×224 input. Default true. */
    includeTop?: boolean;
    /** Input size; default `[224, 224, 3]` with the top, any size (`[null, null, 3]`) without. */
    inputShape?: [number | null, number | null, number];
  } = {},
): tf.LayersModel {
  const seed = options.seed ?? 42;
  const includeTop = options.includeTop ?? true;
  const input = tf.input({
    shape: options.inputShape ?? (includeTop ? [224, 224, 3] : [null, null, 3]),
    name: "input_1",
  });
  let x: tf.SymbolicTensor = input;
  const blocks = [[64, 2], [128, 2], [256, 3], [512, 3], [512, 3]];
  let k = 0;
  blocks.forEach(([filters, convs], b) => {
    for (let c = 0; c < convs; c++) {
      x = tf.layers.conv2d({
        name: `block${b + 1}_conv${c + 1}`,
        filters,
        kernelSize: 3,
        padding: "same",
        activation: "relu",
        kernelInitializer: init(seed, k++),
      }).apply(x) as tf.SymbolicTensor;
    }
    x = tf.layers.maxPooling2d({ name: `block${b + 1}_pool`, poolSize: 2, strides: 2 })
      .apply(x) as tf.SymbolicTensor;
  });
  if (includeTop) {
    x = tf.layers.flatten({ name: "flatten" }).apply(x) as tf.SymbolicTensor;
    x = dense("fc1", 4096, "relu", init(seed, 20))
      .apply(x) as tf.SymbolicTensor;
    x = dense("fc2", 4096, "relu", init(seed, 21))
      .apply(x) as tf.SymbolicTensor;
    x = dense("predictions", 1000, "softmax", init(seed, 22)).apply(x) as tf.SymbolicTensor;
  }
  return tf.model({ inputs: input, outputs: x, name: "vgg16" });
}
