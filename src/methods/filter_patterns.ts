/**
 * Filter patterns: the input each convolution filter responds to most, found
 * by gradient ascent in input space (Deep Learning with Python 5.4.2).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { readBack } from "../backend/read_back.ts";
import type { AscentOptions } from "./ascent_options.ts";
import { findLayer, layerOutputShape, type LayerSelector } from "../models/layers.ts";
import { modelInputRange } from "../models/metadata.ts";
import { activationModel } from "./activations.ts";
import { bytesForShapes, largestFittingBatch, largestTensorBytes } from "../backend/memory.ts";
import { sampleFootprint } from "./_sample_bytes.ts";
import { deprocessImage, inChunks, noiseImage } from "./gradient_ascent.ts";
import { ProgressBar } from "../display/progress.ts";
import { SeededRandom } from "../data/random.ts";
import { lucidTransforms } from "./fourier.ts";
import { ascend, fourierImages, pixelImages } from "./ascend.ts";
import {
  canNarrowFilters,
  narrowFilters,
  withLinearActivation,
  withLinearActivations,
} from "../models/nested.ts";

/**
 * A model from an input of `[height, width]` to `layer`'s output. When the
 * model's own input is fixed to another size, a chain of layers (a
 * Sequential model) is re-applied to a new input of that size (convolutions
 * do not care); other graphs must be used at their own size.
 */
function featureExtractor(
  model: tf.LayersModel,
  layer: tf.layers.Layer,
  [height, width]: [number, number],
): { extractor: tf.LayersModel; shapes?: number[][] } {
  const shape = model.inputs[0].shape;
  const fits = (shape[1] == null || shape[1] === height) &&
    (shape[2] == null || shape[2] === width);
  if (fits) return { extractor: activationModel(model, [layer.name]) };
  if (!(model instanceof tf.Sequential)) {
    throw new Error(
      `Model "${model.name}" takes ${shape[1]}×${shape[2]} inputs; use size ${shape[1]} ` +
        "(only Sequential models can be re-applied at another size)",
    );
  }
  const input = tf.input({ shape: [height, width, shape[3] ?? 3] });
  let x: tf.SymbolicTensor = input;
  const shapes: number[][] = [];
  for (const l of model.layers) {
    // The first layer remembers the model's input size and would warn about the new one.
    const remembered = (l as unknown as { batchInputShape?: unknown }).batchInputShape;
    (l as unknown as { batchInputShape?: unknown }).batchInputShape = undefined;
    try {
      x = l.apply(x) as tf.SymbolicTensor;
    } finally {
      (l as unknown as { batchInputShape?: unknown }).batchInputShape = remembered;
    }
    shapes.push(x.shape.slice(1) as number[]);
    if (l === layer) break;
  }
  return {
    extractor: tf.model({
      inputs: input,
      outputs: x,
      name: `${model.name}_${layer.name}_${height}x${width}`,
    }),
    shapes,
  };
}

/**
 * Each image's mean over the map, `[n, channels]`. tfjs's own mean builds its
 * gradient by multiplying with a tensor of ones made in JS (11 M values for
 * 22 images at 150², 190 ms per step) and its wasm `Tile` is slower still;
 * `onesLike` fills the backend's memory in place.
 */
const spatialMeans = tf.customGrad((x) => {
  const maps = x as tf.Tensor4D;
  const [n, h, w, c] = maps.shape;
  return {
    value: tf.mean(maps, [1, 2]),
    gradFunc: (dy: tf.Tensor) =>
      tf.mul(tf.onesLike(maps), tf.div(tf.reshape(dy, [n, 1, 1, c]), h * w)),
  };
}) as (maps: tf.Tensor4D) => tf.Tensor2D;

/**
 * A chunk's objective, image i reading its own filter `filters[i]`: a
 * convolution computes only the chunk's filters (one at batch 1), since the
 * objective reads nothing else, and its forward and backward work shrink by
 * its filter count over the chunk's; other layers run whole. `own` picks
 * each image's channel from `[n, channels]` values of the layer's output.
 */
function chunkFilters(layer: tf.layers.Layer, filters: readonly number[], channels: number) {
  const narrow = canNarrowFilters(layer, filters.length)
    ? narrowFilters(layer, filters)
    : undefined;
  const mask = tf.tidy(() =>
    (narrow
      ? tf.eye(filters.length)
      : tf.oneHot(tf.tensor1d(filters as number[], "int32"), channels))
      .toFloat() as tf.Tensor2D
  );
  return {
    run: <T>(fn: () => T): T => narrow ? narrow.run(fn) : fn(),
    own: (values: tf.Tensor2D) => tf.sum(tf.mul(values, mask), 1) as tf.Tensor1D,
    dispose() {
      mask.dispose();
      narrow?.dispose();
    },
  };
}

function validateFilters(layer: tf.layers.Layer, filters: readonly number[]): number {
  const shape = layerOutputShape(layer);
  if (shape.length !== 4) {
    throw new Error(
      `Layer "${layer.name}" (${layer.getClassName()}) outputs shape [${shape}], not feature maps: ` +
        "filter patterns need a convolution or pooling layer",
    );
  }
  const channels = shape[3]!;
  for (const f of filters) {
    if (!Number.isInteger(f) || f < 0 || f >= channels) {
      throw new Error(
        `Filter ${f} is out of range: layer "${layer.name}" has ${channels} filters (0–${
          channels - 1
        })`,
      );
    }
  }
  return channels;
}

/**
 * Gradient ascent for many filters of one layer, one image per filter,
 * several images per forward/backward pass (loss = Σ each image's own filter
 * mean). Images never interact, so each equals a one-at-a-time run with the
 * same seed. Returns `[n, size, size, c]`: deprocessed int32 pixels (default)
 * or the raw inputs.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { bookConvnet, filterPatterns, initBackend } from "convscope";
 * await initBackend();
 * const patterns = await filterPatterns(bookConvnet(), "conv2d_1", [0, 1, 2], { inputSize: 64 });
 * assertEquals(patterns.shape, [3, 64, 64, 3]);
 * ```
 */
export async function filterPatterns(
  model: tf.LayersModel,
  layerSelector: LayerSelector | tf.layers.Layer,
  filters: readonly number[],
  options: AscentOptions = {},
): Promise<tf.Tensor4D> {
  // On webgpu the values come back to the CPU here, so figures can draw them.
  return await readBack(await ascendFilterPatterns(model, layerSelector, filters, options));
}

async function ascendFilterPatterns(
  model: tf.LayersModel,
  layerSelector: LayerSelector | tf.layers.Layer,
  filters: readonly number[],
  options: AscentOptions,
): Promise<tf.Tensor4D> {
  const layer = typeof layerSelector === "object" ? layerSelector : findLayer(model, layerSelector);
  const channels = validateFilters(layer, filters);
  const inputShape = model.inputs[0].shape.slice(1) as (number | null)[];
  const depth = inputShape[2] ?? 3;
  const size = options.inputSize ?? inputShape[0] ?? 150;
  const [height, width] = [size, size];
  const { extractor, shapes } = featureExtractor(model, layer, [height, width]);
  const steps = options.steps ?? 40;
  // The book states its recipe for pixels in [0, 255]; it is scaled into the
  // model's own range (noise 128 ± 20 and steps of 1 become 0.50–0.58 and
  // 1/255 for a model trained on pixels / 255).
  const [rangeLow, rangeHigh] = options.inputRange ?? modelInputRange(model) ?? [0, 255];
  const pixel = (rangeHigh - rangeLow) / 255;
  const stepSize = options.stepSize ?? pixel;
  const border = options.border ?? 0;
  const seed = options.seed ?? 0;
  const [low, high] = options.initRange ?? [rangeLow + 128 * pixel, rangeLow + 148 * pixel];
  const footprint = shapes
    ? {
      bytes: bytesForShapes([height, width, depth], shapes),
      largestTensorBytes: largestTensorBytes([height, width, depth], shapes),
    }
    : sampleFootprint(extractor, extractor.layers.at(-1)!, [height, width]);
  const chunk = options.batchSize ??
    largestFittingBatch(filters.length, footprint.bytes, footprint.largestTensorBytes);
  if (options.parameterization === "fourier") {
    return await fourierPatterns(extractor, layer, channels, filters, {
      ...options,
      inputRange: [rangeLow, rangeHigh],
      inputSize: size,
      chunk,
    });
  }
  const bar = options.progress
    ? new ProgressBar({ total: steps * Math.ceil(filters.length / chunk), label: `${layer.name}` })
    : undefined;

  const raw = await inChunks(filters.length, chunk, async (start, end) => {
    const mine = filters.slice(start, end);
    const startImages = tf.tidy(() =>
      tf.concat(
        mine.map((f) =>
          options.init
            ? tf.cast(options.init, "float32").reshape([1, height, width, depth])
            : noiseImage([height, width, depth], seed * 100_003 + f, { low, high })
        ),
        0,
      ) as tf.Tensor4D
    );
    const chunkOf = chunkFilters(layer, mine, channels);
    const objectiveOutput = (input: tf.Tensor) => {
      const forward = () => extractor.apply(input, { training: false }) as tf.Tensor4D;
      return chunkOf.run(() =>
        (options.objective ?? "pre-activation") === "pre-activation"
          ? withLinearActivation(layer, forward)
          : forward()
      );
    };
    // Each image's own filter, averaged over the map (less a border, 2nd edition).
    const filterMeans = (input: tf.Tensor) => {
      const out = objectiveOutput(input);
      const [, h, w] = out.shape;
      const inner = border > 0
        ? tf.slice(out, [0, border, border, 0], [-1, h - 2 * border, w - 2 * border, -1])
        : out;
      return chunkOf.own(spatialMeans(inner as tf.Tensor4D));
    };
    try {
      const { images } = await ascend(filterMeans, pixelImages(startImages), {
        steps,
        optimizer: { gradientNormalization: options.gradientNormalization ?? "rms", stepSize },
        signal: options.signal,
        onStep: (step, mean) => {
          options.onStep?.(step, mean);
          bar?.tick({ loss: mean });
        },
      });
      if (options.onFinalActivations) {
        const [means, change] = tf.tidy(() => {
          const out = objectiveOutput(images);
          return [
            chunkOf.own(tf.mean(out, [1, 2])),
            tf.div(tf.sqrt(tf.mean(tf.square(tf.sub(images, startImages)), [1, 2, 3])), pixel),
          ];
        });
        options.onFinalActivations(
          mine,
          (await means.data()) as Float32Array,
          (await change.data()) as Float32Array,
        );
        means.dispose();
        change.dispose();
      }
      return images;
    } finally {
      chunkOf.dispose();
      startImages.dispose();
    }
  });
  bar?.done();
  const crop = options.crop ?? 0;
  return tf.tidy(() => {
    // Deprocessed over the whole image, then cropped, as the 2nd edition does.
    const picture = options.deprocess === "none"
      ? raw
      : options.deprocess === "2nd-edition"
      ? deprocessImage(raw, { scale: 64 / 255, center: 128 / 255 }) // (x − mean) / std · 64 + 128
      : deprocessImage(raw);
    const result = crop > 0
      ? tf.slice(picture, [0, crop, crop, 0], [-1, height - 2 * crop, width - 2 * crop, -1])
      : picture.clone();
    raw.dispose();
    return result as tf.Tensor4D;
  });
}

async function fourierPatterns(
  extractor: tf.LayersModel,
  layer: tf.layers.Layer,
  channels: number,
  filters: readonly number[],
  options: AscentOptions & { inputSize: number; chunk: number },
): Promise<tf.Tensor4D> {
  const steps = options.steps ?? 512;
  const [lo, hi] = options.inputRange ?? [0, 255];
  const [, fixedH, fixedW] = extractor.inputs[0].shape;
  const bar = options.progress
    ? new ProgressBar({
      total: steps * Math.ceil(filters.length / options.chunk),
      label: "fourier",
    })
    : undefined;
  const upstream = extractor.layers.slice(0, extractor.layers.indexOf(layer) + 1);
  const images = await inChunks(filters.length, options.chunk, async (start, end) => {
    const mine = filters.slice(start, end);
    const n = mine.length;
    const random = new SeededRandom((options.seed ?? 0) + mine[0]);
    const optimizer = tf.train.adam(options.stepSize ?? 0.05);
    const chunkOf = chunkFilters(layer, mine, channels);
    const objective = (rendered: tf.Tensor4D) => {
      let x = lucidTransforms(rendered, random);
      // Fixed-size models get the transformed image resized back to their input.
      if (fixedH != null && fixedW != null) x = tf.image.resizeBilinear(x, [fixedH, fixedW]);
      const forward = () =>
        extractor.apply(tf.add(tf.mul(x, hi - lo), lo), { training: false }) as tf.Tensor4D;
      return chunkOf.own(spatialMeans(chunkOf.run(forward)));
    };
    try {
      const { images } = await ascend(
        // Lucid's redirected ReLU, simplified: for the first steps every
        // activation up to the layer is linear, so that filters the grey start
        // image does not excite yet (dead ReLUs) still get a gradient.
        (rendered, step) =>
          step < 16
            ? withLinearActivations(upstream, () => objective(rendered))
            : objective(rendered),
        fourierImages(n, options.inputSize, (options.seed ?? 0) * 100_003 + mine[0]),
        {
          steps,
          optimizer,
          signal: options.signal,
          onStep: (step, activation) => {
            options.onStep?.(step, activation);
            bar?.tick({ activation });
          },
        },
      );
      const pixels = tf.tidy(() => tf.cast(tf.floor(tf.mul(images, 255.999)), "int32"));
      images.dispose();
      return pixels;
    } finally {
      optimizer.dispose();
      chunkOf.dispose();
    }
  });
  bar?.done();
  const crop = options.crop ?? 0;
  if (crop === 0) return images as tf.Tensor4D;
  const cropped = tf.slice(images, [0, crop, crop, 0], [
    -1,
    options.inputSize - 2 * crop,
    options.inputSize - 2 * crop,
    -1,
  ]);
  images.dispose();
  return cropped as tf.Tensor4D;
}

/**
 * The pattern one filter responds to most: the book's `generate_pattern`.
 * Returns `[size, size, c]` int32 pixels 0–255 (or raw floats with
 * `deprocess: "none"`).
 *
 * @example
 * ```ts
 * import { filterPattern, imshow, initBackend, vgg16 } from "convscope";
 * await initBackend();
 * const model = vgg16({ includeTop: false, inputShape: [150, 150, 3] });
 * const pattern = await filterPattern(model, "block3_conv1", 0);
 * await imshow(pattern, { title: "block3_conv1, filter 0" }).save("out/pattern.png");
 * ```
 */
export async function filterPattern(
  model: tf.LayersModel,
  layer: LayerSelector,
  filter: number,
  options: AscentOptions = {},
): Promise<tf.Tensor3D> {
  const batch = await filterPatterns(model, layer, [filter], options);
  const single = tf.squeeze(batch, [0]) as tf.Tensor3D;
  batch.dispose();
  return await readBack(single);
}
