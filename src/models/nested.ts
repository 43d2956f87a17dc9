/**
 * Layers inside nested models (a Functional model containing a Sequential or
 * an applications base), found and probed without rebuilding the model.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { isConv, layerOutputShape, type LayerPath, walkLayers } from "./layers.ts";

/**
 * The layer Grad-CAM should look at: the last convolution whose output is a
 * 4-D feature map (not a pooling or flatten layer), inside nested models too.
 *
 * @example
 * ```ts
 * import { bookConvnet, initBackend, lastConvLayer } from "convscope";
 * await initBackend();
 * console.log(lastConvLayer(bookConvnet()).path); // conv2d_4
 * ```
 */
export function lastConvLayer(model: tf.LayersModel): LayerPath {
  const convs = walkLayers(model).filter(({ layer }) => {
    const shape = layerOutputShape(layer);
    return isConv(layer) && Array.isArray(shape) && shape.length === 4;
  });
  if (convs.length === 0) {
    throw new Error(
      `Model "${model.name}" has no convolution layer with a 4-D output; pass layer explicitly`,
    );
  }
  return convs[convs.length - 1];
}

/**
 * Runs `fn` while every layer in `layers` passes its output through
 * `through(layer, output)`, then restores the layers. Nested models call
 * their layers like any other, so this reaches layers inside them too.
 */
export function withCallHook<T>(
  layers: readonly tf.layers.Layer[],
  through: (layer: tf.layers.Layer, output: tf.Tensor) => tf.Tensor,
  fn: () => T,
): T {
  type Callable = { call: (inputs: unknown, kwargs: unknown) => tf.Tensor };
  const originals = layers.map((layer) => (layer as unknown as Callable).call);
  layers.forEach((layer, i) => {
    (layer as unknown as Callable).call = function (this: unknown, inputs, kwargs) {
      return through(layer, originals[i].call(this, inputs, kwargs));
    };
  });
  try {
    return fn();
  } finally {
    layers.forEach((layer, i) => (layer as unknown as Callable).call = originals[i]);
  }
}

/**
 * Runs `fn` while `layer`'s output is replaced by `output + probe` and
 * recorded; the gradient with respect to `probe` is the gradient with
 * respect to the layer's output. The layer is restored afterwards. The
 * recorded value is kept past every `tf.tidy` (models dispose their
 * intermediate tensors): the caller disposes it.
 */
export function withProbe<T>(
  layer: tf.layers.Layer,
  probe: tf.Tensor,
  add: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
  fn: (recorded: { value?: tf.Tensor }) => T,
  keep: <X extends tf.Tensor>(x: X) => X,
): T {
  const recorded: { value?: tf.Tensor } = {};
  return withCallHook([layer], (_, out) => {
    recorded.value?.dispose();
    recorded.value = keep(out.clone());
    return add(out, probe);
  }, () => fn(recorded));
}

/**
 * Runs `fn` with the model's final activation (softmax or sigmoid) replaced
 * by a linear one, like tf-keras-vis `ReplaceToLinear`; the model is
 * restored afterwards, so the caller's model is never changed.
 */
export function withLinearOutput<T>(model: tf.LayersModel, fn: () => T): T {
  const last = outputLayer(model);
  return last ? withLinearActivation(last, fn) : fn();
}

type WithActivation = {
  activation?: { getClassName(): string; apply(x: tf.Tensor): tf.Tensor };
};

/**
 * The one way convscope makes an output linear: `layer`'s activation becomes
 * the identity (so its pre-activation is what comes out). Returns the
 * function that puts the activation back.
 */
export function linearize(layer: tf.layers.Layer): () => void {
  const target = layer as unknown as WithActivation;
  const activation = target.activation;
  if (!activation || activation.getClassName() === "linear") return () => {};
  const linear = { getClassName: () => "linear", apply: (x: tf.Tensor) => x };
  target.activation = linear as typeof activation;
  return () => {
    target.activation = activation;
  };
}

/**
 * Runs `fn` with `layer`'s activation replaced by a linear one (so its
 * pre-activation is what comes out), then restores it.
 */
export function withLinearActivation<T>(layer: tf.layers.Layer, fn: () => T): T {
  const restore = linearize(layer);
  try {
    return fn();
  } finally {
    restore();
  }
}

type WithKernel = {
  kernel?: { read(): tf.Tensor };
  bias?: { read(): tf.Tensor } | null;
  dataFormat?: string;
};

/**
 * Whether {@linkcode narrowFilters} can narrow `layer` (a channels-last
 * `Conv2D`), and whether that saves work (fewer filters than it has).
 */
export function canNarrowFilters(layer: tf.layers.Layer, filters: number): boolean {
  const conv = layer as unknown as WithKernel & WithActivation;
  const channels = (layer as unknown as { filters?: number }).filters ?? 0;
  // A softmax across channels would see only the kept ones; every other
  // activation works channel by channel.
  const activation = conv.activation?.getClassName().toLowerCase() ?? "linear";
  return layer.getClassName() === "Conv2D" && conv.dataFormat === "channelsLast" &&
    conv.kernel != null && filters < channels && activation !== "softmax";
}

/**
 * `layer` (a channels-last `Conv2D`, see {@linkcode canNarrowFilters})
 * narrowed to `filters`, in that order: while `run(fn)` runs, its output has
 * `filters.length` channels, the same values as those channels of the whole
 * layer. An objective that reads one filter of a 512-filter layer then does
 * 1/512 of that layer's forward and backward work. The narrowed kernel is
 * made once and kept until `dispose()`, so that the backend's caches per
 * filter buffer (XNNPACK's packed weights, Winograd's transformed filters)
 * last across the steps of an ascent.
 */
export function narrowFilters(
  layer: tf.layers.Layer,
  filters: readonly number[],
): { run<T>(fn: () => T): T; dispose(): void } {
  const conv = layer as unknown as WithKernel;
  const kernel = conv.kernel!, bias = conv.bias;
  const [narrowKernel, narrowBias] = tf.tidy(() => {
    const indices = tf.tensor1d(filters as number[], "int32");
    // `+ 0`: tfjs's wasm Gather returns a reshaped view whose buffer the
    // backend still records as rank 4, and its FusedConv2D checks that record.
    return [
      tf.gather(kernel.read(), indices, 3),
      bias ? tf.add(tf.gather(bias.read(), indices), 0) : undefined,
    ];
  });
  return {
    run<T>(fn: () => T): T {
      conv.kernel = { read: () => narrowKernel };
      if (bias && narrowBias) conv.bias = { read: () => narrowBias };
      try {
        return fn();
      } finally {
        conv.kernel = kernel;
        conv.bias = bias;
      }
    },
    dispose() {
      tf.dispose([narrowKernel, ...(narrowBias ? [narrowBias] : [])]);
    },
  };
}

/** The last layer of a model, inside nested models too. */
export function outputLayer(model: tf.LayersModel): tf.layers.Layer | undefined {
  const layers = walkLayers(model);
  return layers[layers.length - 1]?.layer;
}

/** The class name of the model's final activation (`"softmax"`, `"sigmoid"`, `"linear"` …). */
export function outputActivation(model: tf.LayersModel): string {
  const layers = walkLayers(model);
  const last = layers[layers.length - 1]?.layer as unknown as {
    activation?: { getClassName(): string };
  };
  return last?.activation?.getClassName() ?? "linear";
}

/** {@linkcode withLinearActivation} for several layers at once. */
export function withLinearActivations<T>(layers: readonly tf.layers.Layer[], fn: () => T): T {
  return layers.reduceRight<() => T>(
    (inner, layer) => () => withLinearActivation(layer, inner),
    fn,
  )();
}
