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
 * for (const fig of showActivations(bookConvnet(), image.div(255))) await fig.save(`out/${fig.title}.png`);
 * ```
 *
 * @module
 */

// Set-up: the engine every other call computes on.
export {
  type BackendInfo,
  type BackendName,
  initBackend,
  type InitBackendOptions,
} from "./src/backend/init.ts";
/**
 * The TensorFlow.js namespace convscope computes with, so that notebooks need one import.
 *
 * @example
 * ```ts
 * import { tf } from "convscope";
 * console.log(tf.version.tfjs); // "4.22.0"
 * ```
 */
export * as tf from "@tensorflow/tfjs";

// Images: pictures in, tensors out (like Keras' load_img + img_to_array).
export { decodeImage, loadImage, type LoadImageOptions } from "./src/image/load.ts";
export { type FloatImage, type Interpolation, resizeImage } from "./src/image/resize.ts";

export type { Source } from "./src/io/source.ts";

// Models and Keras files: load what Keras wrote, build the book's architectures.
export { loadKerasModel } from "./src/models/load_keras.ts";
export { loadKerasWeights } from "./src/models/keras_h5.ts";
export { KerasFileError } from "./src/models/keras_file_error.ts";
export { loadModel, saveModel, type SaveModelOptions } from "./src/models/save.ts";
export {
  type ModelSummary,
  modelSummary,
  type ModelSummaryOptions,
  type SummaryRow,
} from "./src/models/summary.ts";
export {
  type ArchitectureOptions,
  bookConvnet,
  mnistConvnet,
  threeClassConvnet,
  vgg16,
} from "./src/models/architectures.ts";
export {
  type BookModelTraining,
  loadBookModel,
  loadBookModelTraining,
} from "./src/models/book_model.ts";
export { modelInputRange, setModelInputRange } from "./src/models/metadata.ts";
export { findLayer, type LayerPath, type LayerSelector } from "./src/models/layers.ts";
export { lastConvLayer } from "./src/models/nested.ts";

// Activations: what each layer outputs for one picture (5.4.1).
export {
  activationModel,
  getActivations,
  informativeChannels,
  type LayerActivation,
  type LayersArg,
} from "./src/methods/activations.ts";

// Filter patterns and activation maximisation: gradient ascent in input space (5.4.2).
export {
  filterPattern,
  type FilterPatternOptions,
  filterPatterns,
} from "./src/methods/filter_patterns.ts";
export {
  deprocessImage,
  type GradientNormalization,
  normalizeGradient,
} from "./src/methods/gradient_ascent.ts";
export {
  maximizeActivation,
  type MaximizeOptions,
  type MaximizeResult,
  replaceToLinear,
} from "./src/methods/activation_maximization.ts";
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
export {
  type CamMethod,
  gradCam,
  type GradCamOptions,
  type GradCamResult,
} from "./src/methods/gradcam.ts";
export { saliency, type SaliencyOptions } from "./src/methods/saliency.ts";

// Figures and colormaps: rich output in a notebook, PNG files outside one.
export { type Draw, Figure, hstack } from "./src/plot/figure.ts";
export {
  imshow,
  type ImshowOptions,
  type MatrixLike,
  matshow,
  type MatshowOptions,
} from "./src/plot/matshow.ts";
export {
  type ChannelNormalization,
  featureGrid,
  type FeatureGridOptions,
} from "./src/plot/feature_grid.ts";
export { showActivations, type ShowActivationsOptions } from "./src/figures/show_activations.ts";
export { filterGrid, type FilterGridOptions } from "./src/figures/filter_grid.ts";
export { classGrid, type ClassGridOptions } from "./src/figures/class_grid.ts";
export { camPanels, overlayHeatmap, type OverlayOptions } from "./src/plot/heatmap.ts";
export { imageGrid } from "./src/plot/image_grid.ts";
export type { Matrix, Raster } from "./src/plot/raster.ts";
export {
  applyColormap,
  type Colormap,
  colormap,
  COLORMAP_NAMES,
  type ColormapName,
  type ColormapOptions,
} from "./src/plot/colormaps.ts";
export { type ChartFigure, plotChart, plotHistory } from "./src/plot/charts.ts";

// Training and data: the book's convnet trained on the book's split (5.2).
export { evaluate, fit, type FitOptions, type History } from "./src/train/fit.ts";
export {
  type Batch,
  ImageDataset,
  imageDatasetFromDirectory,
  type ImageDatasetOptions,
  type SkippedFile,
} from "./src/data/dataset.ts";
export { augmentBatch, type AugmentOptions, BOOK_AUGMENTATION } from "./src/data/augment.ts";
export { type DigitSet, loadMnistDigits } from "./src/data/mnist.ts";
export { SeededRandom } from "./src/data/random.ts";

// Notebook display: rich output in Deno's kernel.
export { display, JUPYTER_DISPLAY, type MimeBundle } from "./src/display/jupyter.ts";
export { ProgressBar, type ProgressOptions } from "./src/display/progress.ts";
