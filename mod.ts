/**
 * convscope: see what convolutional networks learn, in TypeScript, in Deno
 * and in Deno's Jupyter kernel. Intermediate activations as feature-map
 * grids, filter patterns, class activation maps, and the plotting helpers
 * around them (matshow, imshow, colormaps), computed with TensorFlow.js on
 * the WASM backend.
 *
 * The exports follow the chapter (Deep Learning with Python, 5.4): set-up,
 * images, models and Keras files, activations, filter patterns and
 * activation maximisation, class activation maps and saliency, figures and
 * colormaps, training and data, notebook display.
 *
 * ```ts
 * import { bookConvnet, initBackend, loadImage, showActivations } from "convscope";
 * await initBackend();
 * const image = await loadImage("notebooks/images/chelsea.png", { targetSize: [150, 150] });
 * for (const fig of await showActivations(bookConvnet(), image.div(255))) await fig.save(`out/${fig.title}.png`);
 * ```
 *
 * @module
 */

// Set-up: the engine every other call computes on.
export { type BackendInfo, initBackend } from "./src/backend/init.ts";
export { readBack } from "./src/backend/read_back.ts";
export type { GpuAdapterInfo } from "./src/backend/webgpu.ts";
/**
 * The TensorFlow.js namespace convscope computes with, so that notebooks need one import.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { tf } from "convscope";
 * assertEquals(tf.version.tfjs, "4.22.0");
 * ```
 */
export * as tf from "@tensorflow/tfjs";

// Images: pictures in, tensors out (like Keras' load_img + img_to_array).
export { loadImage } from "./src/image/load.ts";

export type { Source } from "./src/io/source.ts";

// Models and Keras files: load what Keras wrote, build the book's architectures.
export { loadKerasModel } from "./src/models/load_keras.ts";
export { loadKerasWeights } from "./src/models/keras_h5.ts";
export { KerasFileError } from "./src/models/keras_file_error.ts";
export { loadModel, saveModel } from "./src/models/save.ts";
export { type ModelSummary, modelSummary } from "./src/models/summary.ts";
export { bookConvnet, mnistConvnet, threeClassConvnet, vgg16 } from "./src/models/architectures.ts";
export { loadBookModel, loadBookModelTraining } from "./src/models/book_model.ts";
export { modelInputRange, setModelInputRange } from "./src/models/metadata.ts";
export { findLayer, type LayerPath, type LayerSelector } from "./src/models/layers.ts";
export { lastConvLayer } from "./src/models/nested.ts";
export { decodePredictions, vgg16Preprocess } from "./src/models/imagenet.ts";

// Activations: what each layer outputs for one picture (5.4.1).
export { activationModel, getActivations, informativeChannels } from "./src/methods/activations.ts";

// Filter patterns and activation maximisation: gradient ascent in input space (5.4.2).
export { filterPattern, filterPatterns } from "./src/methods/filter_patterns.ts";
export { deprocessImage, normalizeGradient } from "./src/methods/gradient_ascent.ts";
export type { AscentOptions } from "./src/methods/ascent_options.ts";
export { maximizeActivation, replaceToLinear } from "./src/methods/activation_maximization.ts";
export {
  type InputModifier,
  jitter,
  lpNorm,
  type Regularizer,
  rotate,
  scale,
  totalVariation,
} from "./src/methods/regularizers.ts";

// Class activation maps and saliency: where the evidence is (5.4.3).
export { gradCam } from "./src/methods/gradcam.ts";
export { saliency } from "./src/methods/saliency.ts";

// Figures and colormaps: rich output in a notebook, PNG files outside one.
export { Figure, hstack } from "./src/plot/figure.ts";
export type { FigureOptions } from "./src/plot/figure_options.ts";
export { imshow, matshow } from "./src/plot/matshow.ts";
export { featureGrid } from "./src/plot/feature_grid.ts";
export { showActivations } from "./src/figures/show_activations.ts";
export { filterGrid } from "./src/figures/filter_grid.ts";
export { classGrid } from "./src/figures/class_grid.ts";
export { explore, type Explorer } from "./src/figures/explore.ts";
export { camPanels, overlayHeatmap } from "./src/plot/heatmap.ts";
export { imageGrid } from "./src/plot/image_grid.ts";
export type { Matrix, Raster } from "./src/plot/raster.ts";
export {
  applyColormap,
  type Colormap,
  colormap,
  COLORMAP_NAMES,
  type ColormapName,
} from "./src/plot/colormaps.ts";
export { type ChartFigure, plotChart, plotHistory } from "./src/plot/charts.ts";

// Training and data: the book's convnet trained on the book's split (5.2).
export { evaluate, fit, type FitOptions, type History } from "./src/train/fit.ts";
export {
  ImageDataset,
  imageDatasetFromDirectory,
  type ImageDatasetOptions,
} from "./src/data/dataset.ts";
export { augmentBatch, type AugmentOptions, BOOK_AUGMENTATION } from "./src/data/augment.ts";
export { loadMnistDigits } from "./src/data/mnist.ts";
export { SeededRandom } from "./src/data/random.ts";

// Notebook display: rich output in Deno's kernel.
export { display, JUPYTER_DISPLAY } from "./src/display/jupyter.ts";
export { ProgressBar } from "./src/display/progress.ts";
